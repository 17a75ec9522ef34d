internal import CBuildInfo

/// What `entitlements --version` prints: the release and the commit the binary was built from.
enum Version {
    /// The release (the Debian package's version too).
    static let release = "0.11.0"

    /// The commit stamped by scripts/build-stamp (`-dirty` when the tree had uncommitted changes), or nil when the
    /// build was not stamped.
    static let commit: String? = {
        let stamped = String(cString: entitlements_build_commit())
        return stamped.isEmpty ? nil : stamped
    }()

    /// `entitlements 0.11.0 (commit 1a2b3c4d5e6f)`, or `(commit unknown)` for an unstamped build.
    static var line: String { "entitlements \(release) (commit \(commit ?? "unknown"))" }
}
