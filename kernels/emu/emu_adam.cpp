#include "cuda_emu.h"
#include "../adam.cu"
