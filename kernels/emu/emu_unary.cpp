#include "cuda_emu.h"
#include "../unary.cu"
