// swift-tools-version:6.0
import PackageDescription

// A minimal user of the library: depends on the QLinear product only (no check/bench harness,
// no model-file I/O).
let package = Package(
    name: "LinearDemo",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Named so the product resolves whatever the checkout directory is called.
        .package(name: "QLinear", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "LinearDemo", dependencies: [
            .product(name: "QLinear", package: "QLinear"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
