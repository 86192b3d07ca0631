#if canImport(Glibc)
import Glibc
#endif
#if canImport(Dispatch)
import Dispatch
#endif
import ArgumentParser
import QLinear
import QLinearIO
import QLinearLlama

/// TEMPORARY diagnostic (not committed): per-tensor output error δᵀHδ of mse / imatrix / GPTQ on
/// the calibration Hessian and on the scored text's Hessian.
struct GPTQDiag: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gptq-diag")
    @Argument var model: String
    @Option var calibrate: String
    @Option var heldout: String
    @Option var include = "blk\\.(0|1|2|15|29)\\."
    @Option var group = 32
    @Option var damp: [Double] = [0.01]
    @Option var rowStride = 1
    @Option var tokens: Int?
    @Option var skipCal = 0
    @Option var skipEval = 0
    @Option var file: [String] = []
    @Option var alpha: [Double] = []

    func quad(_ w: [Float], _ d: [Float], n: Int, k: Int, _ h: [Float], stride: Int) -> (Double, Double) {
        // Σ_r dᵀHd, Σ_r wᵀHw over rows r % stride == 0
        let rows = Array(Swift.stride(from: 0, to: n, by: stride))
        let chunks = 32
        let out = UnsafeMutablePointer<Double>.allocate(capacity: 2 * chunks); out.initialize(repeating: 0, count: 2 * chunks)
        defer { out.deallocate() }
        nonisolated(unsafe) let o = out
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var ed = 0.0, ew = 0.0
            var i = c
            while i < rows.count {
                let r = rows[i]
                for a in 0..<k {
                    var sd: Float = 0, sw: Float = 0
                    let hr = a * k
                    for b in 0..<k { sd += h[hr + b] * d[r * k + b]; sw += h[hr + b] * w[r * k + b] }
                    ed += Double(sd) * Double(d[r * k + a]); ew += Double(sw) * Double(w[r * k + a])
                }
                i += chunks
            }
            o[2 * c] = ed; o[2 * c + 1] = ew
        }
        var ed = 0.0, ew = 0.0
        for c in 0..<chunks { ed += out[2 * c]; ew += out[2 * c + 1] }
        return (ed, ew)
    }

    func deq(_ q: Q4GSWWeights) -> [Float] {
        let groups = q.k / q.groupSize
        var y = [Float](repeating: 0, count: q.n * q.k)
        for i in 0..<q.n { for c in 0..<q.k { y[i * q.k + c] = Float(q.q(i, c)) * q.scales[i * groups + c / q.groupSize] } }
        return y
    }

    func run() throws {
        let l = try LlamaTools.load(path: model, scheme: .fp16, device: nil, instance: CLIValidation.instance, ops: .host)
        func calib(_ path: String, _ skip: Int) throws -> LlamaCalibration {
            var t = l.tokenizer.encode(try readUTF8Text(path), parseSpecial: false)
            if let n = tokens, t.count > n { t = Array(t.prefix(n)) }
            return try LlamaTools.calibrate(l, tokens: t, ctx: 512, skipFirst: skip) { i, n in stderrPrint("calib \(path): \(i)/\(n)") }
        }
        let c1 = try calib(calibrate, skipCal), c2 = try calib(heldout, 0), c3 = skipEval > 0 ? try calib(heldout, skipEval) : c2
        let c1b = alpha.isEmpty ? c1 : try calib(calibrate, 1)
        let files = try file.map { try Safetensors.read(path: $0) }
        let imp = c1.importance()
        let g = try GGUFFile(path: model)
        let re = try Regex(include)
        var sites: [LinearInputSite] = []
        for i in 0..<l.model.config.layers { sites += [.attention(i), .attentionOutput(i), .ffn(i), .ffnDown(i)] }
        sites.append(.head)
        print("tensor | method | rel err calib | rel err heldout")
        for site in sites {
            let names = site.tensorNames(headName: g.has("output.weight") ? "output.weight" : "token_embd.weight").filter { (try? re.firstMatch(in: $0)) != nil }
            if names.isEmpty { continue }
            guard let h1 = c1.hessian(site), let h2 = c2.hessian(site), let h3 = c3.hessian(site) else { continue }
            let k = h1.k
            var t2 = 0.0, t3 = 0.0
            for i in 0..<k { t2 += Double(h2.h[i * k + i]); t3 += Double(h3.h[i * k + i]) }
            print("\(site): trace/rows heldout all \(t2 / Double(h2.rows)), without first \(skipEval): \(t3 / Double(h3.rows)); share of trace in the first rows \(1 - t3 / t2)")
            var factors: [(String, GPTQFactor)] = []
            for d in damp { factors.append(("gptq d\(d)", try GPTQFactor(hessian: h1.h, k: k, samples: h1.rows, dampening: d))) }
            if let hb = c1b.hessian(site) {
                for a in alpha {
                    let ha = (0..<(k * k)).map { i in h1.h[i] + Float(a - 1) * (h1.h[i] - hb.h[i]) }
                    for d in damp { factors.append(("gptq a\(a) d\(d)", try GPTQFactor(hessian: ha, k: k, samples: h1.rows, dampening: d))) }
                }
            }
            for name in names {
                let t = try g.tensor(name)
                let w = try g.floats(t)
                let n = w.count / k
                var methods: [(String, Q4GSWWeights)] = [
                    ("imatrix", try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group, importance: imp[name]!, weightTerm: true)),
                ]
                for (fn, f) in factors { methods.append((fn, try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group, gptq: f))) }
                for (i, f) in files.enumerated() {
                    if case .q4gsw(let q) = try QLinearSafetensors.weights(f, name) { methods.append(("file\(i)", q)) }
                }
                for (mn, q) in methods {
                    let y = deq(q)
                    let d = zip(w, y).map { $0 - $1 }
                    let (a1, b1) = quad(w, d, n: n, k: k, h1.h, stride: rowStride)
                    var (a2, b2) = quad(w, d, n: n, k: k, h2.h, stride: rowStride)
                    var (a3, b3) = quad(w, d, n: n, k: k, h3.h, stride: rowStride)
                    a2 /= Double(h2.rows); b2 /= Double(h2.rows); a3 /= Double(h3.rows); b3 /= Double(h3.rows)
                    let firstRatio = (a2 * Double(h2.rows) - a3 * Double(h3.rows)) / (b2 * Double(h2.rows) - b3 * Double(h3.rows))
                    print("\(name) | \(mn) | \(a1 / b1) | \(a2 / b2) | \(a3 / b3) | first rows: \(firstRatio)")
                    fflush(nil)
                }
            }
        }
    }
}
