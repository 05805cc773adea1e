import CAllocatorTuning

/// How the server asks glibc's allocator to hold memory: written by hand because it is one libc
/// call (`mallopt`) that no Swift package wraps.
///
/// glibc gives threads that contend for memory arenas of their own, up to eight per core, and an
/// arena keeps what is freed in it for reuse instead of returning it to the system. A report that
/// allocates for every journey (attribution of all models) leaves its high-water mark in the
/// arena of whichever thread ran it. Under the soak's load with every attribution read computed,
/// the server held 962 MB from the system with 177 MB in use, spread over 16 arenas, and grew by
/// about 30 MiB a minute; with two arenas it stayed flat (docs/OPERATIONS.md).
public enum ProcessAllocator {
    /// The arenas a server uses when the operator has not chosen (`MALLOC_ARENA_MAX`).
    public static let defaultArenas: Int32 = 2

    /// Caps the allocator's arenas at `arenas`, unless the environment sets `MALLOC_ARENA_MAX`
    /// (then glibc has read it at start and the operator's choice stands). Call it before the
    /// server's threads start: arenas made before it stay. Returns whether the cap was set.
    @discardableResult
    public static func limitArenas(_ arenas: Int32 = defaultArenas, environment: [String: String]) -> Bool {
        guard environment["MALLOC_ARENA_MAX"] == nil, arenas > 0 else { return false }
        return smk_malloc_limit_arenas(arenas) == 1
    }
}
