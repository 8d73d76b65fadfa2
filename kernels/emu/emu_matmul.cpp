#include "cuda_emu.h"
#include "../matmul.cu"
