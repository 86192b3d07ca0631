import QLinear

/// Tensor names and layouts for exchanging linear-layer problems with PyTorch through safetensors
/// (`qlinear run`, `scripts/torch_check.py`):
/// - `x`: activations [M, K], F16 or F32 (its dtype selects the activation dtype), or BF16 (read as F32)
/// - `weight`: fp16 → F16 [N, K]; q4gsw / dq8ca_q4gsw → U8 [N, K/2] (low nibble = even k, zero point 8);
///   dq8ca_q8csw → I8 [N, K]
/// - `scales`: q4 → [N, K/groupSize] (F16 or F32; the group size is K / its second dimension);
///   q8 → [N] or [N, 1]
/// - `bias`: optional [N]
/// Outputs: `y` [M, N] in the activation dtype; dq8ca ops also `x_q` I8 [M, K], `x_scale` F32 [M]
/// and `x_zero_point` I32 [M] (PyTorch's per-token asymmetric qparams).
public enum Interop {
    public struct Inputs: Sendable {
        public var x: [Float]
        public var m: Int, k: Int
        public var act: DType
        public var weights: LinearWeights
        public var bias: [Float]?
    }

    /// `weights`/`tensor`: take the weight from a QLinear safetensors file (`qlinear quantize`'s
    /// output) instead; a file that declares QLinear's layout is always read through its
    /// validated metadata (docs/LLAMA.md, "QLinear safetensors").
    public static func inputs(op: Op, from file: Safetensors, weights weightFile: Safetensors? = nil, tensor: String = "weight") throws -> Inputs {
        let xt = try file.require("x")
        guard xt.shape.count == 2, xt.shape[0] >= 1, xt.shape[1] >= 1 else { throw QLinearError.invalidShape("x must be [M, K], got \(xt.shape)") }
        let m = xt.shape[0], k = xt.shape[1]
        let act: DType = xt.dtype == .F16 ? .f16 : .f32
        guard [.F16, .F32, .BF16].contains(xt.dtype) else { throw QLinearError.invalidFormat("x must be F16, F32 or BF16, got \(xt.dtype.rawValue)") }
        let x = try xt.floats()
        let wf = weightFile ?? file
        if QLinearSafetensors.isQLinear(wf) || weightFile != nil {
            guard QLinearSafetensors.isQLinear(wf) else {
                throw QLinearError.invalidFormat("the weights file is not QLinear safetensors (no \(QLinearSafetensors.layoutKey) metadata; write it with qlinear quantize)")
            }
            let w = try QLinearSafetensors.weights(wf, tensor)
            let fits: Bool
            switch (op, w) {
            case (.fp16, .fp16), (.q4gsw, .q4gsw), (.dq8ca_q4gsw, .q4gsw), (.dq8ca_q8csw, .q8csw): fits = true
            default: fits = false
            }
            guard fits else { throw QLinearError.invalidFormat("tensor \"\(tensor)\" holds \(schemeName(w)) weights, which op \(op.rawValue) does not take") }
            guard w.k == k else { throw QLinearError.invalidShape("x has K = \(k), tensor \"\(tensor)\" has K = \(w.k)") }
            var bias: [Float]?
            if let bt = file.tensors["bias"] {
                guard bt.count == w.n else { throw QLinearError.invalidShape("bias must have N = \(w.n) values, got \(bt.shape)") }
                bias = try bt.floats()
            }
            return Inputs(x: x, m: m, k: k, act: act, weights: w, bias: bias)
        }
        let wt = try file.require("weight")
        guard wt.shape.count == 2 else { throw QLinearError.invalidShape("weight must be 2-D, got \(wt.shape)") }
        let n = wt.shape[0]
        let weights: LinearWeights
        switch op {
        case .fp16:
            guard wt.dtype == .F16, wt.shape == [n, k] else { throw QLinearError.invalidFormat("fp16 weight must be F16 [N, \(k)], got \(wt.dtype.rawValue)\(wt.shape)") }
            weights = .fp16(n: n, k: k, values: try wt.floats().map { Float16($0) })
        case .q4gsw, .dq8ca_q4gsw:
            guard wt.dtype == .U8, k % 2 == 0, wt.shape == [n, k / 2] else {
                throw QLinearError.invalidFormat("INT4 weight must be U8 [N, K/2] = [N, \(k / 2)], got \(wt.dtype.rawValue)\(wt.shape)")
            }
            let st = try file.require("scales")
            guard st.shape.count == 2, st.shape[0] == n, st.shape[1] >= 1, [.F16, .F32].contains(st.dtype) else {
                throw QLinearError.invalidFormat("scales must be F16/F32 [N, K/groupSize], got \(st.dtype.rawValue)\(st.shape)")
            }
            guard k % st.shape[1] == 0 else { throw QLinearError.invalidShape("K (\(k)) is not a multiple of the number of groups (\(st.shape[1]))") }
            weights = .q4gsw(try Q4GSWWeights(n: n, k: k, groupSize: k / st.shape[1], packed: wt.data, scales: try st.floats(),
                                              scaleDType: st.dtype == .F16 ? .f16 : .f32))
        case .dq8ca_q8csw:
            guard wt.dtype == .I8, wt.shape == [n, k] else { throw QLinearError.invalidFormat("INT8 weight must be I8 [N, \(k)], got \(wt.dtype.rawValue)\(wt.shape)") }
            let st = try file.require("scales")
            guard st.count == n, [.F16, .F32].contains(st.dtype) else { throw QLinearError.invalidFormat("scales must be F16/F32 [N], got \(st.dtype.rawValue)\(st.shape)") }
            weights = .q8csw(try Q8CSWWeights(n: n, k: k, values: wt.data.map { Int8(bitPattern: $0) }, scales: try st.floats(),
                                              scaleDType: st.dtype == .F16 ? .f16 : .f32))
        }
        var bias: [Float]?
        if let bt = file.tensors["bias"] {
            guard bt.count == n else { throw QLinearError.invalidShape("bias must have N = \(n) values, got \(bt.shape)") }
            bias = try bt.floats()
        }
        return Inputs(x: x, m: m, k: k, act: act, weights: weights, bias: bias)
    }

    /// Quantizes `weight` (F32/F16/BF16 [N, K]) into the source layout of `op`'s weight format.
    public static func quantize(op: Op, weight t: Safetensors.Tensor, groupSize: Int, scaleDType: DType = .f16) throws -> Safetensors {
        guard t.shape.count == 2 else { throw QLinearError.invalidShape("weight must be [N, K], got \(t.shape)") }
        let n = t.shape[0], k = t.shape[1]
        let w = try t.floats()
        switch op {
        case .q4gsw, .dq8ca_q4gsw:
            let q = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: groupSize, scaleDType: scaleDType)
            return Safetensors(tensors: ["weight": .init(dtype: .U8, shape: [n, k / 2], data: q.packed),
                                         "scales": scaleTensor(q.scales, shape: [n, k / groupSize], scaleDType)],
                               metadata: ["format": "q4gsw", "group_size": String(groupSize), "zero_point": "8", "nibble_order": "low=even k"])
        case .dq8ca_q8csw:
            let q = try Q8CSWWeights.quantize(w, n: n, k: k, scaleDType: scaleDType)
            return Safetensors(tensors: ["weight": .init(dtype: .I8, shape: [n, k], data: q.values.map { UInt8(bitPattern: $0) }),
                                         "scales": scaleTensor(q.scales, shape: [n], scaleDType)], metadata: ["format": "q8csw"])
        case .fp16:
            return Safetensors(tensors: ["weight": .f16(w, shape: [n, k])], metadata: ["format": "fp16"])
        }
    }

    static func schemeName(_ w: LinearWeights) -> String {
        switch w { case .fp16: return "fp16"; case .q4gsw: return "q4gsw"; case .q8csw: return "q8csw" }
    }

    static func scaleTensor(_ v: [Float], shape: [Int], _ dtype: DType) -> Safetensors.Tensor {
        dtype == .f16 ? .f16(v, shape: shape) : .f32(v, shape: shape)
    }
}
