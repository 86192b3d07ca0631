// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "QLinear",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "QLinear", targets: ["QLinear"]),
        .executable(name: "qlinear", targets: ["qlinear"]),
    ],
    targets: [
        .systemLibrary(
            name: "CVulkan", path: "Sources/CVulkan", pkgConfig: "vulkan",
            providers: [.apt(["libvulkan-dev"])]),
        .target(name: "VulkanRuntime", dependencies: ["CVulkan"]),
        .target(name: "QLinearReference"),
        .target(name: "QLinear", dependencies: ["VulkanRuntime", "QLinearReference"]),
        .executableTarget(name: "qlinear", dependencies: ["QLinear"]),
        .testTarget(name: "QLinearTests", dependencies: ["QLinear", "QLinearReference", "VulkanRuntime"]),
    ],
    swiftLanguageModes: [.v6]
)
