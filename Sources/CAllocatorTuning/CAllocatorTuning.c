#include <stdlib.h>
#include "CAllocatorTuning.h"
#if defined(__GLIBC__)
#include <malloc.h>

int smk_malloc_limit_arenas(int arenas) {
    return mallopt(M_ARENA_MAX, arenas);
}
#else
int smk_malloc_limit_arenas(int arenas) {
    (void)arenas;
    return 0;
}
#endif
