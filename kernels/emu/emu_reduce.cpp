#include "cuda_emu.h"
#include "../reduce.cu"
