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
        .library(name: "QLinearLlama", targets: ["QLinearLlama"]),
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
        // The model runner: an example of the library (SmolLM2 / llama), not part of it.
        .target(name: "QLinearLlama", dependencies: ["QLinear", "QLinearIO"]),
        .executableTarget(name: "qlinear", dependencies: [
            "QLinear", "QLinearIO", "QLinearCheck", "QLinearLlama",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "QLinearTests", dependencies: ["QLinear", "QLinearIO", "QLinearCheck", "QLinearReference"]),
        .testTarget(name: "QLinearLlamaTests", dependencies: ["QLinear", "QLinearIO", "QLinearLlama", "QLinearCheck"]),
    ],
    swiftLanguageModes: [.v6]
)
