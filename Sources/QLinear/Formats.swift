// Weight formats users of PyTorch / torchao / ExecuTorch already have, their quantizers, and the
// prepacked layouts the kernels read (see docs/DESIGN.md, "Weight layouts").

/// INT4 group-symmetric weights (`q4gsw`), in ExecuTorch's source layout:
/// `packed` is uint8 [N, K/2], the low nibble holds the even k, the high nibble the odd k, each
/// stored unsigned with an implicit zero point of 8, so w[n,k] = (q − 8) · scales[n, k / groupSize].
/// `scales` is [N, K/groupSize]; `scaleDType` records whether it came as fp16 or fp32 (values
/// held here are exactly the stored ones).
public struct Q4GSWWeights: Sendable, Equatable {
    public let n: Int, k: Int, groupSize: Int
    public let packed: [UInt8]
    public let scales: [Float]
    public let scaleDType: DType

    /// Validates sizes: K a multiple of the group size (a multiple of 8), `packed` N·K/2 bytes,
    /// `scales` N·K/groupSize finite values.
    public init(n: Int, k: Int, groupSize: Int, packed: [UInt8], scales: [Float], scaleDType: DType = .f32) throws {
        guard n >= 1, k >= 1 else { throw QLinearError.invalidShape("q4gsw: N and K must be ≥ 1 (got N=\(n), K=\(k))") }
        guard groupSize >= 8, groupSize % 8 == 0 else {
            throw QLinearError.invalidShape("q4gsw: group size must be a positive multiple of 8 (got \(groupSize))")
        }
        guard k % groupSize == 0 else { throw QLinearError.invalidShape("q4gsw: K (\(k)) must be a multiple of the group size (\(groupSize))") }
        let elements = try Checked.mul(n, k, "q4gsw N·K")
        guard packed.count == elements / 2 else {
            throw QLinearError.invalidFormat("q4gsw: packed weight has \(packed.count) bytes, N·K/2 = \(elements / 2) expected")
        }
        guard scales.count == (try Checked.mul(n, k / groupSize, "q4gsw scale count")) else {
            throw QLinearError.invalidFormat("q4gsw: \(scales.count) scales, N·K/groupSize = \(n * (k / groupSize)) expected ([\(n), \(k / groupSize)])")
        }
        if let bad = scales.firstIndex(where: { !$0.isFinite }) {
            throw QLinearError.nonFinite("q4gsw: scale \(bad) is \(scales[bad])")
        }
        self.n = n; self.k = k; self.groupSize = groupSize
        self.packed = packed; self.scales = scales; self.scaleDType = scaleDType
    }

    /// The checks every INT4 quantizer makes on its input (shape, group size, finiteness).
    static func validateQuantizeInput(_ w: [Float], n: Int, k: Int, groupSize: Int) throws {
        guard n >= 1, k >= 1 else { throw QLinearError.invalidShape("q4gsw quantize: N and K must be ≥ 1 (got N=\(n), K=\(k))") }
        guard w.count == (try Checked.mul(n, k, "q4gsw quantize N·K")) else { throw QLinearError.invalidShape("q4gsw quantize: \(w.count) weights, N·K = \(n * k) expected") }
        guard groupSize >= 8, groupSize % 8 == 0, k % groupSize == 0 else {
            throw QLinearError.invalidShape("q4gsw quantize: K (\(k)) must be a multiple of the group size (\(groupSize)), itself a multiple of 8")
        }
        if let bad = w.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("weight \(bad) is \(w[bad])") }
    }

    /// Quantizes fp32 weights [N, K] group-wise: for each (n, group) the scale is
    /// max|w| / 7.5 (torchao's symmetric rule for the range [−8, 7]; at least FLT_EPSILON), rounded
    /// to `scaleDType`, and q = clamp(round_half_even(w / scale), −8, 7), stored as q + 8.
    public static func quantize(_ w: [Float], n: Int, k: Int, groupSize: Int, scaleDType: DType = .f16) throws -> Q4GSWWeights {
        try validateQuantizeInput(w, n: n, k: k, groupSize: groupSize)
        let groups = k / groupSize
        var scales = [Float](repeating: 0, count: n * groups)
        var packed = [UInt8](repeating: 0, count: n * k / 2)
        for r in 0..<n {
            for g in 0..<groups {
                var amax: Float = 0
                for c in (g * groupSize)..<((g + 1) * groupSize) { amax = max(amax, abs(w[r * k + c])) }
                var s = max(amax / 7.5, Float.ulpOfOne)
                if scaleDType == .f16 {
                    s = Float(Float16(s))
                    guard s.isFinite else {
                        throw QLinearError.invalidShape("q4gsw quantize: row \(r) group \(g) has max |w| = \(amax), whose scale \(amax / 7.5) overflows fp16 (max 65504); use fp32 scales (qlinear quantize --scale-dtype f32)")
                    }
                }
                scales[r * groups + g] = s
                for c in (g * groupSize)..<((g + 1) * groupSize) {
                    let q = Int(min(max((w[r * k + c] / s).rounded(.toNearestOrEven), -8), 7)) + 8
                    let idx = r * (k / 2) + c / 2
                    packed[idx] |= c % 2 == 0 ? UInt8(q) : UInt8(q) << 4
                }
            }
        }
        return try Q4GSWWeights(n: n, k: k, groupSize: groupSize, packed: packed, scales: scales, scaleDType: scaleDType)
    }

    /// Signed value (q − 8) at (row, col).
    public func q(_ row: Int, _ col: Int) -> Int {
        let byte = packed[row * (k / 2) + col / 2]
        return Int(col % 2 == 0 ? byte & 15 : byte >> 4) - 8
    }
}

/// INT8 per-channel symmetric weights (`q8csw`): int8 [N, K], w[n,k] = q · scales[n].
public struct Q8CSWWeights: Sendable, Equatable {
    public let n: Int, k: Int
    public let values: [Int8]
    public let scales: [Float]
    public let scaleDType: DType

    public init(n: Int, k: Int, values: [Int8], scales: [Float], scaleDType: DType = .f32) throws {
        guard n >= 1, k >= 1 else { throw QLinearError.invalidShape("q8csw: N and K must be ≥ 1 (got N=\(n), K=\(k))") }
        guard values.count == (try Checked.mul(n, k, "q8csw N·K")) else { throw QLinearError.invalidFormat("q8csw: \(values.count) values, N·K = \(n * k) expected") }
        guard scales.count == n else { throw QLinearError.invalidFormat("q8csw: \(scales.count) scales, N = \(n) expected") }
        if let bad = scales.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("q8csw: scale \(bad) is \(scales[bad])") }
        self.n = n; self.k = k; self.values = values; self.scales = scales; self.scaleDType = scaleDType
    }

    /// Quantizes fp32 weights [N, K] per output channel: scale = max|w_n| / 127.5 (torchao's
    /// symmetric rule for [−128, 127]; at least FLT_EPSILON), rounded to `scaleDType`,
    /// q = clamp(round_half_even(w / scale), −128, 127).
    public static func quantize(_ w: [Float], n: Int, k: Int, scaleDType: DType = .f32) throws -> Q8CSWWeights {
        guard n >= 1, k >= 1 else { throw QLinearError.invalidShape("q8csw quantize: N and K must be ≥ 1 (got N=\(n), K=\(k))") }
        guard w.count == (try Checked.mul(n, k, "q8csw quantize N·K")) else { throw QLinearError.invalidShape("q8csw quantize: \(w.count) weights, N·K = \(n * k) expected") }
        if let bad = w.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("weight \(bad) is \(w[bad])") }
        var scales = [Float](repeating: 0, count: n)
        var values = [Int8](repeating: 0, count: n * k)
        for r in 0..<n {
            var amax: Float = 0
            for c in 0..<k { amax = max(amax, abs(w[r * k + c])) }
            var s = max(amax / 127.5, Float.ulpOfOne)
            if scaleDType == .f16 {
                s = Float(Float16(s))
                guard s.isFinite else {
                    throw QLinearError.invalidShape("q8csw quantize: row \(r) has max |w| = \(amax), whose scale \(amax / 127.5) overflows fp16 (max 65504); use fp32 scales (qlinear quantize --scale-dtype f32)")
                }
            }
            scales[r] = s
            for c in 0..<k { values[r * k + c] = Int8(min(max((w[r * k + c] / s).rounded(.toNearestOrEven), -128), 127)) }
        }
        return try Q8CSWWeights(n: n, k: k, values: values, scales: scales, scaleDType: scaleDType)
    }
}

/// The weights of one linear layer, in any supported format.
public enum LinearWeights: Sendable {
    /// fp16 weights [N, K] (values held as Float, each exactly representable in fp16).
    case fp16(n: Int, k: Int, values: [Float16])
    case q4gsw(Q4GSWWeights)
    case q8csw(Q8CSWWeights)

    public var n: Int { switch self { case .fp16(let n, _, _): return n; case .q4gsw(let w): return w.n; case .q8csw(let w): return w.n } }
    public var k: Int { switch self { case .fp16(_, let k, _): return k; case .q4gsw(let w): return w.k; case .q8csw(let w): return w.k } }
    public var groupSize: Int { if case .q4gsw(let w) = self { return w.groupSize }; return 0 }

    /// Checks what the enum cases cannot check at construction: fp16 values' count (N·K, overflow
    /// checked) and finiteness. The INT4/INT8 structs validate themselves when built.
    public func validate() throws {
        if case .fp16(let n, let k, let v) = self {
            guard n >= 1, k >= 1 else { throw QLinearError.invalidShape("fp16 weights: N and K must be ≥ 1 (got N=\(n), K=\(k))") }
            let count = try Checked.mul(n, k, "fp16 weights N·K")
            guard v.count == count else { throw QLinearError.invalidFormat("fp16 weights: \(v.count) values, N·K = \(count) expected") }
            if let bad = v.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("fp16 weight [\(bad / k), \(bad % k)] is \(v[bad])") }
        }
    }

    /// Bytes of the source format: values as stored by the user plus scales in their dtype.
    public var formatBytes: Int {
        switch self {
        case .fp16(let n, let k, _): return 2 * n * k
        case .q4gsw(let w): return w.n * w.k / 2 + w.scales.count * w.scaleDType.bytes
        case .q8csw(let w): return w.n * w.k + w.scales.count * w.scaleDType.bytes
        }
    }
}

/// Weights in the layout the kernels read ("prepacked" at load):
/// - fp16: half [N, ldw] with ldw = K rounded up to 8 (zero padding), so rows are 16-byte aligned.
/// - q4gsw: uint32 words [N, K/8] — the source bytes reinterpreted little-endian, so nibble i of
///   word j is k = 8j + i (no reordering needed); scales as fp32 [N, K/G]; per-(n, group) sums
///   Σ(q − 8) as int32 [N, K/G] for the zero-point correction of dq8ca.
/// - q8csw: int8 [N, ldw·4] as uint32 words with rows zero-padded to a multiple of 32 values
///   (ldw = Kp/4), scales fp32 [N], sums Σq int32 [N].
struct PackedWeights: Sendable {
    let words: [UInt32]
    let ldw: Int
    let scales: [Float]
    let sums: [Int32]
    /// Per output channel n: Σ_g scale[n,g] · sums[n,g] (computed in fp64, stored fp32) — the
    /// zero-point correction the cooperative-matrix dq8ca kernels apply once, after the K loop.
    var correction: [Float] {
        guard !sums.isEmpty else { return [] }
        var out = [Float](repeating: 0, count: correctionRows)
        let per = sums.count / correctionRows
        for n in 0..<correctionRows {
            var acc = 0.0
            for g in 0..<per { acc += Double(scales[n * per + g]) * Double(sums[n * per + g]) }
            out[n] = Float(acc)
        }
        return out
    }
    /// Output channels (N) for the correction (0 for fp16 weights).
    let correctionRows: Int

    init(words: [UInt32], ldw: Int, scales: [Float], sums: [Int32], rows: Int = 0) {
        self.words = words; self.ldw = ldw; self.scales = scales; self.sums = sums; self.correctionRows = rows
    }

    /// Byte sizes of the packed layout for (already validated) weights, computed with overflow
    /// checks before anything is allocated.
    static func layout(_ weights: LinearWeights) throws -> (wordBytes: Int, scaleBytes: Int, sumBytes: Int) {
        switch weights {
        case .fp16(let n, let k, _):
            return (try Checked.mul(try Checked.mul(n, try Checked.roundUp(k, 8, "fp16 row"), "fp16 packed"), 2, "fp16 packed bytes"), 0, 0)
        case .q4gsw(let w):
            return (try Checked.mul(w.n, w.k / 2, "q4 packed bytes"), 4 * w.scales.count, 4 * w.scales.count)
        case .q8csw(let w):
            return (try Checked.mul(w.n, try Checked.roundUp(w.k, 32, "q8 row"), "q8 packed bytes"), 4 * w.n, 4 * w.n)
        }
    }

    static func pack(_ weights: LinearWeights) -> PackedWeights {
        switch weights {
        case .fp16(let n, let k, let values):
            let ld = roundUp(k, 8)
            var halves = [UInt16](repeating: 0, count: n * ld)
            for r in 0..<n { for c in 0..<k { halves[r * ld + c] = values[r * k + c].bitPattern } }
            var words = [UInt32](repeating: 0, count: n * ld / 2)
            for i in 0..<words.count { words[i] = UInt32(halves[2 * i]) | UInt32(halves[2 * i + 1]) << 16 }
            return PackedWeights(words: words, ldw: ld, scales: [], sums: [])
        case .q4gsw(let w):
            let wpr = w.k / 8
            var words = [UInt32](repeating: 0, count: w.n * wpr)
            for i in 0..<words.count {
                words[i] = UInt32(w.packed[4 * i]) | UInt32(w.packed[4 * i + 1]) << 8 | UInt32(w.packed[4 * i + 2]) << 16 | UInt32(w.packed[4 * i + 3]) << 24
            }
            let groups = w.k / w.groupSize
            var sums = [Int32](repeating: 0, count: w.n * groups)
            for r in 0..<w.n { for c in 0..<w.k { sums[r * groups + c / w.groupSize] += Int32(w.q(r, c)) } }
            return PackedWeights(words: words, ldw: wpr, scales: w.scales, sums: sums, rows: w.n)
        case .q8csw(let w):
            let kp = roundUp(w.k, 32)
            let wpr = kp / 4
            var words = [UInt32](repeating: 0, count: w.n * wpr)
            var sums = [Int32](repeating: 0, count: w.n)
            for r in 0..<w.n {
                for c in 0..<w.k {
                    let v = w.values[r * w.k + c]
                    words[r * wpr + c / 4] |= UInt32(UInt8(bitPattern: v)) << (8 * UInt32(c % 4))
                    sums[r] += Int32(v)
                }
            }
            return PackedWeights(words: words, ldw: wpr, scales: w.scales, sums: sums, rows: w.n)
        }
    }

    /// Recovers the source format from the packed layout (lossless; tested).
    func unpack(like weights: LinearWeights) throws -> LinearWeights {
        switch weights {
        case .fp16(let n, let k, _):
            var v = [Float16](repeating: 0, count: n * k)
            for r in 0..<n { for c in 0..<k {
                let h = r * ldw + c
                v[r * k + c] = Float16(bitPattern: UInt16(truncatingIfNeeded: words[h / 2] >> (16 * UInt32(h % 2))))
            } }
            return .fp16(n: n, k: k, values: v)
        case .q4gsw(let w):
            var bytes = [UInt8](repeating: 0, count: w.n * w.k / 2)
            for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: words[i / 4] >> (8 * UInt32(i % 4))) }
            return .q4gsw(try Q4GSWWeights(n: w.n, k: w.k, groupSize: w.groupSize, packed: bytes, scales: scales, scaleDType: w.scaleDType))
        case .q8csw(let w):
            var v = [Int8](repeating: 0, count: w.n * w.k)
            for r in 0..<w.n { for c in 0..<w.k {
                v[r * w.k + c] = Int8(bitPattern: UInt8(truncatingIfNeeded: words[r * ldw + c / 4] >> (8 * UInt32(c % 4))))
            } }
            return .q8csw(try Q8CSWWeights(n: w.n, k: w.k, values: v, scales: scales, scaleDType: w.scaleDType))
        }
    }
}

@inline(__always) func roundUp(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m * m }
