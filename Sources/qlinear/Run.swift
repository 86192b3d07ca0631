import ArgumentParser
import QLinear
import QLinearIO

struct RunReport: Codable { var op: String; var kernel: String; var shader: String; var output: String }

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one op on tensors from a safetensors file (x, weight, scales, optional bias); write y (and the int8 activations for dq8ca).")
    @Option(help: "The op: \(Op.allCases.map(\.rawValue).joined(separator: ", ")).") var op: Op
    @Option(help: "Input safetensors file.") var inputs: String
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output safetensors file.") var output: String
    @Option(help: "Kernel: tiled, coopmat, gemv or auto (the dispatcher's choice).") var kernel: KernelChoice = .auto
    @OptionGroup var dev: DeviceOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if kernel == .all { throw ValidationError("run takes one kernel: tiled, coopmat, gemv or auto") }
    }

    func run() throws {
        let inp = try Interop.inputs(op: op, from: try Safetensors.read(path: inputs))
        let ctx = try dev.open()
        let layer = try LinearLayer(context: ctx, weights: inp.weights, bias: inp.bias, act: inp.act, dynamicActivations: op == .dq8ca_q4gsw)
        guard layer.op == op else { throw CLIFailure("the weight format gives op \(layer.op.rawValue), not \(op.rawValue)") }
        let out = try layer.forward(inp.x, m: inp.m, kernel: kernel.kinds?.first)
        var file = Safetensors(metadata: ["op": op.rawValue, "kernel": out.plan.kernel.rawValue, "shader": out.plan.shader.rawValue, "device": ctx.capabilities.name])
        file.tensors["y"] = inp.act == .f16 ? .f16(out.y, shape: [inp.m, layer.n]) : .f32(out.y, shape: [inp.m, layer.n])
        if let a = out.activations {
            file.tensors["x_q"] = .init(dtype: .I8, shape: [inp.m, inp.k], data: a.q.map { UInt8(bitPattern: $0) })
            file.tensors["x_scale"] = .f32(a.scale, shape: [inp.m])
            file.tensors["x_zero_point"] = .i32(a.zeroPoint, shape: [inp.m])
        }
        try file.write(path: output)
        if json {
            print(try jsonString(RunReport(op: op.rawValue, kernel: out.plan.kernel.rawValue, shader: out.plan.shader.rawValue, output: output)))
        } else {
            print("\(op.rawValue) M=\(inp.m) N=\(layer.n) K=\(inp.k) on \(ctx.capabilities.name) with \(out.plan.kernel.rawValue) (\(out.plan.shader.rawValue)) → \(output)")
        }
    }
}

enum QuantFormat: String, ExpressibleByArgument, CaseIterable { case q4gsw, q8csw }

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize fp32/fp16/bf16 weights from a safetensors file into the q4gsw or q8csw source layout.")
    @Option(help: "Target format: q4gsw or q8csw.") var format: QuantFormat
    @Option(help: "Input safetensors file.") var inputs: String
    @Option(help: "Tensor to quantize.") var tensor = "weight"
    @Option(help: "INT4 group size along K.") var group = 128
    @Option(name: .customLong("scale-dtype"), help: "Scale dtype: f16 (ExecuTorch's default) or f32 (for weights whose scales overflow fp16).")
    var scaleDType: DType = .f16
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output safetensors file.") var output: String

    func validate() throws {
        if group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
    }

    func run() throws {
        let file = try Safetensors.read(path: inputs)
        let op: Op = format == .q4gsw ? .q4gsw : .dq8ca_q8csw
        let t = try file.require(tensor)
        var out = try Interop.quantize(op: op, weight: t, groupSize: group, scaleDType: scaleDType)
        if let b = file.tensors["bias"] { out.tensors["bias"] = b }
        try out.write(path: output)
        print("quantized \(tensor) \(t.shape) to \(format.rawValue)\(op == .q4gsw ? " (group \(group))" : "") → \(output)")
    }
}
