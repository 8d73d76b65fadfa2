#include "cuda_emu.h"
#include "../index.cu"
