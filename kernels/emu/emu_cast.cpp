#include "cuda_emu.h"
#include "../cast.cu"
