#include "cuda_emu.h"
#include "../random.cu"
