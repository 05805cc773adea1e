#ifndef CALLOCATORTUNING_H
#define CALLOCATORTUNING_H
/// Caps glibc's malloc arenas at `arenas` (mallopt M_ARENA_MAX). Returns 1 when set, 0 when
/// refused or on a system without glibc. mallopt is declared in <malloc.h>, which Swift's Glibc
/// module does not bring in: hence this C (the project's other C is CSQLiteTuning).
int smk_malloc_limit_arenas(int arenas);
#endif
