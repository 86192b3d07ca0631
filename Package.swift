// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "QLinear",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "QLinear", targets: ["QLinear"]),
        .library(name: "QLinearIO", targets: ["QLinearIO"]),
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
        .target(name: "QLinear", dependencies: ["VulkanRuntime", "QLinearReference"]),
        .target(name: "QLinearIO", dependencies: ["QLinear"]),
        .target(name: "QLinearLlama", dependencies: ["QLinear", "QLinearIO", "VulkanRuntime"]),
        .executableTarget(name: "qlinear", dependencies: [
            "QLinear", "QLinearIO", "QLinearLlama",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "QLinearTests", dependencies: ["QLinear", "QLinearReference", "VulkanRuntime"]),
        .testTarget(name: "QLinearLlamaTests", dependencies: ["QLinear", "QLinearIO", "QLinearLlama"]),
    ],
    swiftLanguageModes: [.v6]
)
