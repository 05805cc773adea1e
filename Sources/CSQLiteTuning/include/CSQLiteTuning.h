#ifndef CSQLITETUNING_H
#define CSQLITETUNING_H
/// Turns off SQLite's global memory statistics, which take a process-wide mutex on every
/// allocation. Must run before SQLite initialises; returns 0 on success. sqlite3_config is
/// variadic, so Swift cannot call it directly (the project's other C is CAllocatorTuning).
int smk_sqlite_disable_memstatus(void);
#endif
