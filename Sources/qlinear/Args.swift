/// A small argument parser: `--flag`, `--key value`, `--key=value`, repeated keys, positionals.
struct Args {
    var positional: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    private var used: Set<String> = []
    static let flagNames: Set<String> = ["json", "bias", "no-coopmat", "quick"]
    static let valueNames: Set<String> = ["device", "op", "shape", "shapes", "group", "act", "kernel", "seed", "out",
                                          "iters", "inputs", "output", "tensor", "format"]

    init(_ argv: [String]) throws {
        var i = 0
        while i < argv.count {
            let a = argv[i]
            if a.hasPrefix("--") {
                var key = String(a.dropFirst(2))
                var value: String?
                if let eq = key.firstIndex(of: "=") { value = String(key[key.index(after: eq)...]); key = String(key[..<eq]) }
                guard Args.flagNames.contains(key) || Args.valueNames.contains(key) else {
                    throw CLIError.usage("unknown option --\(key)")
                }
                if Args.flagNames.contains(key) && value == nil { flags.insert(key) }
                else {
                    if value == nil {
                        i += 1
                        guard i < argv.count else { throw CLIError.usage("--\(key) needs a value") }
                        value = argv[i]
                    }
                    values[key, default: []].append(value!)
                }
            } else if a == "-o" {
                i += 1
                guard i < argv.count else { throw CLIError.usage("-o needs a value") }
                values["output", default: []].append(argv[i])
            } else {
                positional.append(a)
            }
            i += 1
        }
    }

    mutating func flag(_ k: String) -> Bool { used.insert(k); return flags.contains(k) }
    mutating func value(_ k: String) -> String? { used.insert(k); return values[k]?.last }
    mutating func all(_ k: String) -> [String] { used.insert(k); return values[k] ?? [] }
    mutating func int(_ k: String) throws -> Int? {
        guard let v = value(k) else { return nil }
        guard let i = Int(v) else { throw CLIError.usage("--\(k) expects an integer, got \"\(v)\"") }
        return i
    }
    /// Fails on options nobody asked for (typos).
    func checkUnused() throws {
        let unknown = Set(values.keys).union(flags).subtracting(used)
        if !unknown.isEmpty { throw CLIError.usage("unknown option(s): \(unknown.sorted().map { "--" + $0 }.joined(separator: ", "))") }
    }
}

enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case failed(String)
    var description: String {
        switch self { case .usage(let s): return s; case .failed(let s): return s }
    }
}

/// Fixed-point formatting without Foundation's String(format:).
func fmt(_ x: Double, _ digits: Int = 2) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (abs(x) * p).rounded()
    let ip = Int(r / p)
    var fp = String(Int(r - Double(ip) * p))
    while fp.count < digits { fp = "0" + fp }
    return (x < 0 && r != 0 ? "-" : "") + String(ip) + (digits > 0 ? "." + fp : "")
}

/// Scientific formatting for errors.
func sci(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return fmt(x) }
    var e = 0
    var m = abs(x)
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    return (x < 0 ? "-" : "") + fmt(m, 2) + "e" + String(e)
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

func parseShape(_ s: String) throws -> (Int, Int, Int) {
    let parts = s.lowercased().split(separator: "x").map { Int($0) }
    guard parts.count == 3, let m = parts[0], let n = parts[1], let k = parts[2], m > 0, n > 0, k > 0 else {
        throw CLIError.usage("shape \"\(s)\" is not MxNxK with positive integers (e.g. 128x4096x4096)")
    }
    return (m, n, k)
}

func cArrayString(_ a: [CChar]) -> String {
    String(decoding: a.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func trim(_ s: String) -> String {
    var t = Substring(s)
    while let f = t.first, f.isWhitespace { t = t.dropFirst() }
    while let l = t.last, l.isWhitespace { t = t.dropLast() }
    return String(t)
}
