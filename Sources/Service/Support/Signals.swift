#if canImport(Glibc)
    import Glibc
#endif

/// Blocks the process signals in every thread (call before starting any: threads inherit the blocked set, and child
/// processes started through Foundation's `Process` get an empty one) and waits for them on one thread.
enum Signals {
    static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Waits for SIGHUP (calls `reload`) until SIGTERM or SIGINT arrives; returns that signal.
    static func wait(reload: () -> Void) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&set, s) }
        while true {
            var sig: Int32 = 0
            guard sigwait(&set, &sig) == 0 else { continue }
            if sig == SIGHUP {
                reload()
                continue
            }
            return sig
        }
    }
}
