import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Watches the bundle directory (and its sub-directories) with inotify; calls `changed` once per burst of events.
final class BundleWatcher: @unchecked Sendable {
    // @unchecked: `fd` and `watched` are only used by the watcher's own thread after `start`; `stopping` is atomic.
    let directory: String
    let changed: @Sendable () -> Void
    private var fd: Int32 = -1
    private var watched = Set<String>()
    private let stopping = Atomic<Bool>(false)

    init(directory: String, changed: @escaping @Sendable () -> Void) {
        self.directory = directory
        self.changed = changed
    }

    func start() -> Bool {
        fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { return false }
        addWatches()
        let thread = Thread { [self] in run() }
        thread.name = "bundle-watch"
        thread.start()
        return true
    }

    /// Asks the watcher's thread to end; it closes the inotify descriptor on its way out (within half a second).
    func stop() { stopping.store(true, ordering: .relaxed) }

    /// Each file under `directory` with its size and modification time: a change saved between reading the bundle
    /// and starting to watch it shows as a different stamp (the service then reloads once).
    static func stamp(_ directory: String) -> [String] {
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: directory) else { return out }
        while let rel = e.nextObject() as? String {
            var st = stat()
            guard stat(directory + "/" + rel, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            out.append("\(rel)\t\(st.st_size)\t\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
            if out.count > 10_000 { break }
        }
        return out
    }

    private func addWatches() {
        var dirs = [directory]
        if let e = FileManager.default.enumerator(atPath: directory) {
            while let rel = e.nextObject() as? String {
                var isDir: ObjCBool = false
                let abs = directory + "/" + rel
                if FileManager.default.fileExists(atPath: abs, isDirectory: &isDir), isDir.boolValue {
                    dirs.append(abs)
                }
                if dirs.count > 1000 { break }
            }
        }
        let mask = UInt32(
            IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MODIFY)
        for d in dirs where !watched.contains(d) {
            if inotify_add_watch(fd, d, mask) >= 0 { watched.insert(d) }
        }
    }

    private func run() {
        defer {
            close(fd)
            fd = -1
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while !stopping.load(ordering: .relaxed) {
            // Wake twice a second to notice `stop()`.
            let ready = poll(&pfd, 1, 500)
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if errno == EINTR { continue }
                return
            }
            // Debounce: editors write several events per save; wait for the burst to end, then drain it.
            while poll(&pfd, 1, 150) > 0 {
                _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            }
            watched.removeAll(keepingCapacity: true)
            addWatches()
            changed()
        }
    }
}
