// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for QLinear's parsers (docs/RELIABILITY.md, "Fuzzing"). Not part of the
// product: built only by scripts/fuzz.sh with `--sanitize=fuzzer --sanitize=address`, which links
// libFuzzer's main; each target defines LLVMFuzzerTestOneInput.
let package = Package(
    name: "QLinearFuzz",
    dependencies: [
        .package(name: "QLinear", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(name: "fuzz-safetensors", dependencies: [.product(name: "QLinearIO", package: "QLinear")],
                          path: "Sources/FuzzSafetensors"),
        .executableTarget(name: "fuzz-gguf", dependencies: [.product(name: "QLinearIO", package: "QLinear"),
                                                            .product(name: "QLinearLlama", package: "QLinear")],
                          path: "Sources/FuzzGGUF"),
        .executableTarget(name: "fuzz-tokenizer", dependencies: [.product(name: "QLinearIO", package: "QLinear"),
                                                                 .product(name: "QLinearLlama", package: "QLinear")],
                          path: "Sources/FuzzTokenizer"),
        .executableTarget(name: "fuzz-tuning", dependencies: [.product(name: "QLinear", package: "QLinear")],
                          path: "Sources/FuzzTuning"),
        // Sources/FuzzCLI/Support.swift and Validation.swift are symlinks to the CLI's own files
        // (built with warnings as errors in the main package). From this package their
        // ExpressibleByArgument conformances of QLinear's types are retroactive, which only warns.
        .executableTarget(name: "fuzz-cli", dependencies: [.product(name: "QLinear", package: "QLinear"),
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/FuzzCLI", swiftSettings: [.unsafeFlags(["-suppress-warnings"])]),
    ],
    swiftLanguageModes: [.v6]
)
