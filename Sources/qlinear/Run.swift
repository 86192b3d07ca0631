import ArgumentParser
import QLinear
import QLinearIO

struct RunReport: Codable { var op: String; var kernel: String; var shader: String; var output: String }

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one op on tensors from a safetensors file (x, weight, scales, optional bias); write y (and the int8 activations for dq8ca).")
    @Option(help: "The op: \(Op.allCases.map(\.rawValue).joined(separator: ", ")).") var op: Op
    @Option(help: "Input safetensors file (x, and weight/scales/bias unless --weights is given).") var inputs: String
    @Option(help: "Take the weight from this QLinear safetensors file (qlinear quantize's output).") var weights: String?
    @Option(help: "The weight tensor's name (in --weights, or in a QLinear --inputs file).") var tensor = "weight"
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output safetensors file.") var output: String
    @Option(help: "Kernel: tiled, coopmat, gemv or auto (the dispatcher's choice).") var kernel: KernelChoice = .auto
    @OptionGroup var dev: DeviceOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if kernel == .all { throw ValidationError("run takes one kernel: tiled, coopmat, gemv or auto") }
    }

    func run() throws {
        let inp = try Interop.inputs(op: op, from: try Safetensors.read(path: inputs), weights: try weights.map { try Safetensors.read(path: $0) }, tensor: tensor)
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

