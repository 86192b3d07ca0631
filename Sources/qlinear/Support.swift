#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import QLinear

extension Op: ExpressibleByArgument {}
extension DType: ExpressibleByArgument {}
extension KernelKind: ExpressibleByArgument {}

/// An output format for tables (llama-bench's conventions).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case md, json, csv }

/// A problem shape MxNxK: three positive decimal integers, nothing else.
struct Shape: ExpressibleByArgument, CustomStringConvertible, Hashable {
    var m: Int, n: Int, k: Int
    init(m: Int, n: Int, k: Int) { self.m = m; self.n = n; self.k = k }
    init?(argument: String) { try? self.init(parsing: argument) }
    init(parsing s: String) throws {
        let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        func num(_ p: Substring) -> Int? {
            guard !p.isEmpty, p.count <= 18, p.allSatisfy({ $0 >= "0" && $0 <= "9" }), let v = Int(p), v > 0 else { return nil }
            return v
        }
        guard parts.count == 3, let m = num(parts[0]), let n = num(parts[1]), let k = num(parts[2]) else {
            throw ValidationError("shape \"\(s)\" is not MxNxK with positive decimal integers (e.g. 128x4096x4096)")
        }
        self.m = m; self.n = n; self.k = k
    }
    var description: String { "\(m)x\(n)x\(k)" }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// Device selection and dispatch overrides every GPU command takes. The CLI (not the library)
/// reads the QLINEAR_* environment variables.
struct DeviceOptions: ParsableArguments {
    @Option(help: "Device index or name substring (default: QLINEAR_DEVICE, else the best device).")
    var device: String?
    @Flag(name: .customLong("no-coopmat"), help: "Never use cooperative-matrix kernels (or QLINEAR_DISABLE_COOPMAT=1).")
    var noCoopmat = false
    @Option(help: "Force the cooperative-matrix tile: large, small, tiny or BMxBN/WMxWN, e.g. 128x128/2x4 (or QLINEAR_TILE).")
    var tile: String?
    @Option(name: .customLong("k-step"), help: "Force the cooperative-matrix K step: 16, 32 or 64 (or QLINEAR_BK).")
    var kStep: Int?
    @Option(name: .customLong("buffers"), help: "Force cooperative-matrix shared-memory buffering: 1 or 2, or 0 for the direct kernel (fp16 weights, no shared memory; or QLINEAR_BUFFERS).")
    var buffers: Int?
    @Option(name: .customLong("split-k"), help: "Force cooperative-matrix split-K slices: 1…64 (or QLINEAR_SPLITK).")
    var splitK: Int?
    @Option(help: "Force the cooperative-matrix raster group: workgroups walk 1…64 tile rows at a time (or QLINEAR_SWIZZLE).")
    var swizzle: Int?
    @Option(help: "Force the float cooperative-matrix prefetch distance: 1 or 2 K steps of global loads in flight (or QLINEAR_PREFETCH).")
    var prefetch: Int?
    @Option(help: ArgumentHelp("Diagnostics: leave parts of the cooperative-matrix main loop out (1 global loads, 2 MMAs, 4 shared stores and barriers; sum them). Results are WRONG: for timing with `bench` only (or QLINEAR_ABLATE).", visibility: .hidden))
    var ablate: Int?
    @Option(help: "Force the matrix–vector configuration COLUMNSxTHREADSxUNROLL, e.g. 2x128x2, with a trailing h for packed fp16 math (q4gsw), e.g. 4x128x1h, or x for activations in registers (q4gsw; UNROLL = columns in flight), e.g. 8x128x4x, or g for K split inside a subgroup (q4gsw; COLUMNS per subgroup, UNROLL chunks in flight; then l = activations through L1, pN = column groups per subgroup, sN = subgroups per column), e.g. 2x512x1gls4, or m for tensor cores, e.g. 32x128x2mp2s4 (or QLINEAR_GEMV).")
    var gemv: String?
    @Option(name: .customLong("quant-threads"), help: "Force the activation-quantization pass's workgroup size (dq8ca ops): 1…1024 threads, clamped to the device (or QLINEAR_QUANT_THREADS).")
    var quantThreads: Int?
    @Flag(name: .customLong("no-f16-math"), help: "q4gsw decode: use the fp32 matrix–vector kernel, not packed fp16 (or QLINEAR_GEMV_F16_MATH=0).")
    var noF16Math = false
    @Option(help: "Tuning table (JSON, as `qlinear tune` writes) instead of the built-in one (or QLINEAR_TUNING).")
    var tuning: String?

    /// QLINEAR_INT8_PROBE=0: open contexts without the int8 fragment probe.
    static var int8Probe: Bool { env("QLINEAR_INT8_PROBE") != "0" }

    static func env(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }

    static func parseTile(_ s: String) throws -> TileShape {
        switch s {
        case "large": return .large
        case "small": return .small
        case "tiny": return .tiny
        default:
            let halves = s.split(separator: "/")
            let dims = halves.map { $0.split(separator: "x").map { Int($0) } }
            guard dims.count == 2, dims[0].count == 2, dims[1].count == 2, let bm = dims[0][0], let bn = dims[0][1],
                  let wm = dims[1][0], let wn = dims[1][1], [bm, bn, wm, wn].allSatisfy({ $0 > 0 && $0 <= 1024 }) else {
                throw ValidationError("tile \"\(s)\" is not large, small, tiny or BMxBN/WMxWN (e.g. 128x128/2x4)")
            }
            return TileShape(bm: bm, bn: bn, wm: wm, wn: wn)
        }
    }

    static func parseGemv(_ text: String) throws -> GemvConfig {
        var body = Substring(text)
        var split: Int?, prefetch: Int?, l1: Bool?, staged = false, xRows: Int?, xLoad: Bool?, xStore: Int?, weightHalves: Bool?, kBlock: Int?, int8: Bool?, fused: Bool?, inDispatch: Bool?
        // Tensor-core form: COLUMNSxTHREADSxUNROLLm, then optionally pPREFETCH and sSPLIT; the
        // subgroup-split form COLUMNSxTHREADSxUNROLLg, then optionally l (activations through L1),
        // pCOLUMN_GROUPS and sSUBGROUPS.
        if let mIdx = body.firstIndex(where: { $0 == "m" || $0 == "g" || $0 == "f" }) {
            var tail = body[body.index(after: mIdx)...]
            if body[mIdx] == "g" && tail.first == "l" { l1 = true; tail = tail.dropFirst() }
            if body[mIdx] == "f" && tail.first == "w" { staged = true; tail = tail.dropFirst() }
            if body[mIdx] == "f" && tail.first == "q" { fused = true; tail = tail.dropFirst() }
            if body[mIdx] == "f" && !staged && fused == nil && tail.first == "d" { inDispatch = true; tail = tail.dropFirst() }
            func take(_ c: Character, _ range: ClosedRange<Int>) throws -> Int? {
                guard tail.first == c else { return nil }
                let digits = tail.dropFirst().prefix(while: \.isNumber)
                guard let v = Int(digits), range.contains(v) else {
                    throw ValidationError("matrix–vector configuration \"\(text)\": \(c) must be followed by \(range.lowerBound)…\(range.upperBound)")
                }
                tail = tail.dropFirst(1 + digits.count)
                return v
            }
            if body[mIdx] != "f" { prefetch = try take("p", body[mIdx] == "g" ? 1...16 : 1...4) }
            if body[mIdx] == "f" && !staged {
                xRows = try take("t", 32...128)
                if xRows != nil && tail.first == "l" { xLoad = true; tail = tail.dropFirst() }
                if xRows != nil && tail.first == "h" { weightHalves = true; tail = tail.dropFirst() }
                if xRows != nil && tail.first == "i" { int8 = true; tail = tail.dropFirst() }
                if xRows != nil { kBlock = try take("k", 128...256) }
                if xRows != nil { xStore = try take("e", 1...8) }
                if xRows != nil && fused == true { throw ValidationError("matrix–vector configuration \"\(text)\": the fused quantization (fq) is a form of the matrix–vector kernel, not of the prefill form (ftN)") }
            }
            split = try take("s", 1...64)
            guard tail.isEmpty else { throw ValidationError("matrix–vector configuration \"\(text)\": unexpected \"\(tail)\" after the \(body[mIdx])") }
            body = body[...mIdx]
        }
        let suffix = body.last.flatMap { "hxgmf".contains($0) ? $0 : nil }
        let s = suffix != nil ? body.dropLast() : body
        let v = s.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard v.count == 3, let c = v[0], let t = v[1], let u = v[2], c > 0, t > 0, u > 0, c <= 128, t <= 4096, u <= 64 else {
            throw ValidationError("matrix–vector configuration \"\(text)\" is not COLUMNSxTHREADSxUNROLL (e.g. 2x128x2, 2x128x2h for packed fp16 math, 16x128x4x for activations in registers, 2x128x4g for K split inside a subgroup (2x128x4glp4s2: activations through L1, four column groups per subgroup, two subgroups per column), 32x128x2m for tensor cores, 32x128x2mp2s4 with 2 steps in flight and split-K 4, 2x256x1fs2 for tensor cores with register-built fragments, 2 tiles per subgroup, K over 2 subgroups, 2x256x1fws2 with the x rows staged per workgroup, 1x512x1fqs16 (dq8ca ops) with the activations quantized inside the kernel (1x512x1fwqs4 quantized as they are staged; 1x512x1fds16 with the pass inside the dispatch), 2x256x1ft64 for the prefill form with 64 x rows per workgroup, 2x256x1ft64l with its B fragments loaded by coopMatLoad, 2x256x1ft64le4 storing the next block's x rows after MMA step 4, 2x256x1ft64lhe8 with the weights in half blocks and x a block further ahead, 1x512x1ft64lhk256 — dq8ca_q8csw's int8 form — with 256-value K blocks, 1x512x1ft64li for dq8ca_q4gsw's int8 form)")
        }
        switch suffix {
        case "m": return GemvConfig(columns: c, threads: t, unroll: u, mma: true, splitK: split, prefetch: prefetch)
        case "f":
            let config = GemvConfig(columns: c, threads: t, unroll: u, splitK: split, frag: true, xs: staged ? true : nil, xRows: xRows, xLoad: xLoad, xStore: xStore, weightHalves: weightHalves, kBlock: kBlock, int8: int8, fuseQuant: fused, quantInDispatch: inDispatch)
            if let p = config.problem { throw ValidationError(p) }
            return config
        case "x": return GemvConfig(columns: c, threads: t, unroll: u, halfMath: true, xreg: true)
        case "g": return GemvConfig(columns: c, threads: t, unroll: u, halfMath: true, splitK: split, prefetch: prefetch, sg: true, l1: l1)
        case "h": return GemvConfig(columns: c, threads: t, unroll: u, halfMath: true)
        default: return GemvConfig(columns: c, threads: t, unroll: u)
        }
    }

    func dispatchOptions() throws -> DispatchOptions {
        var o = DispatchOptions()
        if noCoopmat || (DeviceOptions.env("QLINEAR_DISABLE_COOPMAT").map { $0 != "0" } ?? false) { o.disableCoopMat = true }
        if let t = tile ?? DeviceOptions.env("QLINEAR_TILE") { o.coopMatTile = try DeviceOptions.parseTile(t) }
        /// A forced integer knob: the flag, else the variable; a value outside `allowed` is a usage error.
        func knob(_ flag: Int?, _ variable: String, _ allowed: Set<Int>, _ what: String) throws -> Int? {
            guard let text = flag.map(String.init) ?? DeviceOptions.env(variable) else { return nil }
            guard let v = Int(text), allowed.contains(v) else { throw ValidationError("\(what), got \(text)") }
            return v
        }
        o.coopMatKStep = try knob(kStep, "QLINEAR_BK", [16, 32, 64], "K step must be 16, 32 or 64")
        o.coopMatBuffers = try knob(buffers, "QLINEAR_BUFFERS", [0, 1, 2], "shared-memory buffers must be 0 (the direct kernel: fp16, no shared memory), 1 or 2")
        o.coopMatSplitK = try knob(splitK, "QLINEAR_SPLITK", Set(1...64), "split-K slices must be 1…64")
        o.coopMatSwizzle = try knob(swizzle, "QLINEAR_SWIZZLE", Set(1...64), "raster group must be 1…64 tile rows")
        o.coopMatPrefetch = try knob(prefetch, "QLINEAR_PREFETCH", [1, 2], "prefetch distance must be 1 or 2 K steps")
        o.coopMatAblate = try knob(ablate, "QLINEAR_ABLATE", Set(0...7).union(stride(from: 8, through: 56, by: 8)),
                                   "ablation flags must be 0…7 (1, 2, 4: the prefill forms' loads, MMAs, stores) or 8…56 in steps of 8 (8, 16, 32: gemv_frag_dqs's diagnostics)") ?? 0
        o.quantThreads = try knob(quantThreads, "QLINEAR_QUANT_THREADS", Set(1...1024), "activation-quantization threads must be 1…1024")
        if let g = gemv ?? DeviceOptions.env("QLINEAR_GEMV") { o.gemvConfig = try DeviceOptions.parseGemv(g) }
        if noF16Math || DeviceOptions.env("QLINEAR_GEMV_F16_MATH") == "0" { o.gemvHalfMath = false }
        if let path = tuning ?? DeviceOptions.env("QLINEAR_TUNING") { o.tuning = try checkedTuningTable(TuningTable.decode(try readFileBytes(path)), source: path) }
        return o
    }

    var selector: String? { device ?? DeviceOptions.env("QLINEAR_DEVICE") }

    func open() throws -> QLinearContext {
        try QLinearContext(device: selector, options: try dispatchOptions(), instance: CLIValidation.instance, int8Probe: DeviceOptions.int8Probe)
    }
}

/// A tuning table from a file, with its cooperative-matrix tiles and K steps in range. The
/// dispatcher divides by WM and WN and multiplies the tile sizes unchecked: a rule with WM = 0
/// trapped `explain --tuning` on cooperative-matrix devices (found by Fuzz/fuzz-tuning; the
/// library-side check belongs in TuningTable/Dispatcher, docs/RELIABILITY.md).
func checkedTuningTable(_ table: TuningTable, source: String) throws -> TuningTable {
    for (i, r) in table.coopmat.enumerated() {
        let t = r.tile
        guard [t.bm, t.bn, t.wm, t.wn].allSatisfy({ $0 >= 1 && $0 <= 1024 }), (r.kStep ?? 32) >= 1, (r.kStep ?? 32) <= 1024 else {
            throw CLIFailure("tuning table \(source): coopmat rule \(i) has tile \(t.bm)x\(t.bn)/\(t.wm)x\(t.wn), K step \(r.kStep ?? 32); each must be in 1…1024")
        }
    }
    return table
}

/// Runtime failures (exit 1), as opposed to usage errors (exit 2).
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ s: String) { description = s }
}

func stderrPrint(_ s: String, newline: Bool = true) {
    var s = s
    if newline && !s.hasSuffix("\n") { s += "\n" }
    let bytes = Array(s.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func jsonString<T: Encodable>(_ v: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try e.encode(v), as: UTF8.self)
}

/// Reads a whole text file that must be UTF-8 (a binary or other-encoding file is an error naming
/// the first bad byte, not a text of replacement characters).
func readUTF8Text(_ path: String) throws -> String {
    let bytes = try readFileBytes(path)
    if let t = String(validating: bytes, as: UTF8.self) { return t }
    // Find the first offending byte for the message.
    var i = 0
    while i < bytes.count {
        var j = i + 1
        while j <= min(bytes.count, i + 4), String(validating: bytes[i..<j], as: UTF8.self) == nil { j += 1 }
        if j > min(bytes.count, i + 4) { break }
        i = j
    }
    throw CLIFailure("\(path) is not UTF-8 text (invalid byte at offset \(i))")
}

/// Reads a whole (small) file, with a readable error.
func readFileBytes(_ path: String) throws -> [UInt8] {
    var st = stat()
    guard stat(path, &st) == 0 else { throw CLIFailure("cannot read \(path): \(String(cString: strerror(errno)))") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw CLIFailure("cannot read \(path): not a regular file") }
    guard let f = fopen(path, "rb") else { throw CLIFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n > 0 { out.append(contentsOf: buf[0..<n]) }
        if n < buf.count { break }
    }
    return out
}

func writeFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw CLIFailure("cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    guard fputs(text, f) >= 0 else { throw CLIFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
}

func nowString() -> String {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 64)
    strftime(&buf, 64, "%Y-%m-%dT%H:%M:%SZ", &tmv)
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Fixed-point formatting without Foundation's String(format:).
func fmt(_ x: Double, _ digits: Int = 2) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (abs(x) * p).rounded()
    guard r < 9e15 else { return sci(x) }
    let ip = Int(r / p)
    var fp = String(Int(r - Double(ip) * p))
    while fp.count < digits { fp = "0" + fp }
    return (x < 0 && r != 0 ? "-" : "") + String(ip) + (digits > 0 ? "." + fp : "")
}

/// Scientific formatting for errors.
func sci(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    var e = 0
    var m = abs(x)
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    return (x < 0 ? "-" : "") + fmt(m, 2) + "e" + String(e)
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
func yn(_ b: Bool) -> String { b ? "yes" : "no" }

/// Shapes from a file: one MxNxK per line, `#` comments, blank lines ignored. An empty list is an error.
func readShapesFile(_ path: String) throws -> [Shape] {
    try parseShapesList(String(decoding: try readFileBytes(path), as: UTF8.self), source: path)
}

/// The text of a shapes file (errors name `source` and the line).
func parseShapesList(_ text: String, source: String) throws -> [Shape] {
    var shapes: [Shape] = []
    for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let s = trim(line)
        if s.isEmpty { continue }
        do { shapes.append(try Shape(parsing: s)) } catch { throw ValidationError("\(source):\(i + 1): \(error)") }
    }
    if shapes.isEmpty { throw ValidationError("\(source) lists no shapes") }
    return shapes
}

func trim(_ s: String) -> String {
    var t = Substring(s)
    while let f = t.first, f.isWhitespace { t = t.dropFirst() }
    while let l = t.last, l.isWhitespace { t = t.dropLast() }
    return String(t)
}
