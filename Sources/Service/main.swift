#if canImport(Glibc)
    import Glibc
#endif

let code = CLI.run(arguments: Array(CommandLine.arguments.dropFirst()), output: .standard)
exit(code)
