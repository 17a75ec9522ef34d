// swift-tools-version:6.0
// Entitlements: a rules engine for SaaS entitlements.
// No Swift package dependencies by design; C libraries come from Debian.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Entitlements",
    products: [
        .library(name: "Rules", targets: ["Rules"]),
        .library(name: "Evaluator", targets: ["Evaluator"]),
        .executable(name: "entitlements", targets: ["Service"]),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            path: "Sources/CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            path: "Sources/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Our own C shim over Debian's libmicrohttpd (MHD_start_daemon is variadic).
        .target(name: "CHTTP", path: "Sources/CHTTP", linkerSettings: [.linkedLibrary("microhttpd")]),
        // The commit stamped by scripts/build-stamp, for `entitlements --version`.
        .target(name: "CBuildInfo", path: "Sources/CBuildInfo"),
        .target(name: "Rules", dependencies: ["CYAML"], swiftSettings: strict),
        .target(name: "Evaluator", dependencies: ["Rules"], swiftSettings: strict),
        .executableTarget(
            name: "Service", dependencies: ["Rules", "Evaluator", "CHTTP", "CLibPQ", "CBuildInfo"],
            exclude: ["Store/README.md"],
            // The playground's HTML, CSS and JavaScript, compiled in as bytes (`PackageResources`): files in the
            // source tree, no file needed at run time.
            resources: [
                .embedInCode("HTTP/Assets/playground.html"), .embedInCode("HTTP/Assets/playground.css"),
                .embedInCode("HTTP/Assets/playground.js"),
            ],
            swiftSettings: strict),
        .testTarget(name: "RulesTests", dependencies: ["Rules"], resources: [], swiftSettings: strict),
        .testTarget(name: "EvaluatorTests", dependencies: ["Rules", "Evaluator"], swiftSettings: strict),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "Rules", "Evaluator"], swiftSettings: strict),
    ]
)
