#include "cuda_emu.h"
#include "../binary.cu"
