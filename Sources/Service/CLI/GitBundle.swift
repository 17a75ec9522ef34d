import Foundation

/// The two bundles `diff` compares: two folders as given, or a bundle folder as of git revisions — extracted with
/// `git archive` into a temporary folder that `cleanup()` removes.
struct GitBundle {
    struct Sides {
        var old: String
        var new: String
        var oldLabel: String
        var newLabel: String
        var temporary: [String] = []

        func cleanup() {
            for t in temporary { try? FileManager.default.removeItem(atPath: t) }
        }
    }

    static let usage = "diff takes OLD_DIR NEW_DIR, or REV [REV2] [DIR] (git revisions of the bundle folder DIR)"

    /// `OLD_DIR NEW_DIR`; `REV [DIR]` (REV against the working tree); `REV REV2 [DIR]`.
    static func sides(_ positional: [String]) throws(UsageError) -> Sides {
        func isDirectory(_ p: String) -> Bool {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
        }
        guard !positional.isEmpty, positional.count <= 3 else { throw UsageError(message: usage) }
        if isDirectory(positional[0]) {
            guard positional.count == 2 else { throw UsageError(message: usage) }
            return Sides(old: positional[0], new: positional[1], oldLabel: positional[0], newLabel: positional[1])
        }
        var dir = "./Policies"
        var revisions = [positional[0]]
        for p in positional.dropFirst() {
            if isDirectory(p) {
                dir = p
            } else if revisions.count < 2 {
                revisions.append(p)
            } else {
                throw UsageError(message: usage)
            }
        }
        var sides = Sides(
            old: "", new: dir, oldLabel: revisions[0], newLabel: revisions.count == 2 ? revisions[1] : dir)
        do {
            let old = try extract(revisions[0], dir: dir)
            sides.old = old.bundle
            sides.temporary.append(old.temporary)
            if revisions.count == 2 {
                let new = try extract(revisions[1], dir: dir)
                sides.new = new.bundle
                sides.temporary.append(new.temporary)
            }
        } catch {
            sides.cleanup()
            throw error
        }
        return sides
    }

    /// The folder `dir` as of `revision`, written to a new temporary folder.
    static func extract(_ revision: String, dir: String) throws(UsageError) -> (bundle: String, temporary: String) {
        guard
            let root = git(["-C", dir, "rev-parse", "--show-toplevel"])?.trimmingCharacters(
                in: .whitespacesAndNewlines),
            let prefix = git(["-C", dir, "rev-parse", "--show-prefix"])?.trimmingCharacters(in: .whitespacesAndNewlines)
        else {
            throw UsageError(message: "'\(dir)' is not inside a git repository (needed to read revision '\(revision)')")
        }
        guard git(["-C", root, "rev-parse", "--verify", "--quiet", revision + "^{commit}"]) != nil else {
            throw UsageError(message: "unknown git revision '\(revision)'")
        }
        let temporary = NSTemporaryDirectory() + "entitlements-diff-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let archive = Process()
        archive.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        archive.arguments =
            ["git", "-C", root, "archive", "--format=tar", revision] + (prefix.isEmpty ? [] : ["--", prefix])
        let untar = Process()
        untar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        untar.arguments = ["tar", "-x", "-C", temporary]
        let pipe = Pipe()
        archive.standardOutput = pipe
        archive.standardError = FileHandle.nullDevice
        untar.standardInput = pipe
        do {
            try archive.run()
            try untar.run()
        } catch {
            throw UsageError(message: "cannot run git archive: \(error)")
        }
        archive.waitUntilExit()
        untar.waitUntilExit()
        let bundle = temporary + "/" + prefix
        var isDir: ObjCBool = false
        guard archive.terminationStatus == 0, untar.terminationStatus == 0,
            FileManager.default.fileExists(atPath: bundle, isDirectory: &isDir), isDir.boolValue
        else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw UsageError(message: "'\(prefix.isEmpty ? dir : prefix)' does not exist at revision '\(revision)'")
        }
        return (bundle, temporary)
    }

    /// Standard output of a successful git command, else nil.
    static func git(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}
