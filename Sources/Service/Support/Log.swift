#if canImport(Glibc)
    import Glibc
#endif

/// Structured JSON log lines on standard error: `{"ts", "level", "event", …fields}`.
enum Log {
    static func line(_ level: String, _ event: String, _ fields: [(String, JSONValue)] = []) {
        var m: [(String, JSONValue)] = [
            ("ts", .string(Clock.now().rfc3339)), ("level", .string(level)), ("event", .string(event)),
        ]
        m += fields
        FileDescriptor.writeAll(2, JSONWriter.string(.object(m)) + "\n")
    }
}

/// Unbuffered writes to a file descriptor (standard output and error), shared by the CLI and the log.
enum FileDescriptor {
    /// Writes the whole string, retrying short writes; gives up silently when the descriptor is closed.
    static func writeAll(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }
}
