// swift-tools-version:6.0
import PackageDescription

// Layers: CVulkan (C shim) → VulkanRuntime (knows no ops) → QLinear (formats, kernel registry,
// dispatcher, layers; re-exports VulkanRuntime) → QLinearIO (model files) and QLinearCheck
// (conformance, reference comparison, bench; links the CPU reference) → the qlinear CLI.
// A library user depends on the QLinear product only.
let package = Package(
    name: "QLinear",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "QLinear", targets: ["QLinear"]),
        .library(name: "QLinearIO", targets: ["QLinearIO"]),
        .library(name: "QLinearCheck", targets: ["QLinearCheck"]),
        .executable(name: "qlinear", targets: ["qlinear"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CVulkan", path: "Sources/CVulkan", pkgConfig: "vulkan",
            providers: [.apt(["libvulkan-dev"])]),
        .target(name: "VulkanRuntime", dependencies: ["CVulkan"]),
        .target(name: "QLinearReference"),
        .target(name: "QLinear", dependencies: ["VulkanRuntime"]),
        .target(name: "QLinearIO", dependencies: ["QLinear"]),
        .target(name: "QLinearCheck", dependencies: ["QLinear", "QLinearReference"]),
        .executableTarget(name: "qlinear", dependencies: [
            "QLinear", "QLinearIO", "QLinearCheck",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "QLinearTests", dependencies: ["QLinear", "QLinearIO", "QLinearCheck", "QLinearReference"]),
    ],
    swiftLanguageModes: [.v6]
)
