import QLinear
import VulkanRuntime

func cmdRun(_ args: inout Args) throws {
    guard let opName = args.value("op"), let op = Op(rawValue: opName) else { throw CLIError.usage("run needs --op (\(Op.allCases.map(\.rawValue).joined(separator: ", ")))") }
    guard let input = args.value("inputs") else { throw CLIError.usage("run needs --inputs IN.safetensors") }
    guard let output = args.value("output") else { throw CLIError.usage("run needs -o OUT.safetensors") }
    let kernels = try parseKernels(&args, default: [])
    let json = args.flag("json")
    let ctx = try openContext(&args)
    try args.checkUnused()
    let inp = try Interop.inputs(op: op, from: try Safetensors.read(path: input))
    let layer = try LinearLayer(context: ctx, weights: inp.weights, bias: inp.bias, act: inp.act, dynamicActivations: op == .dq8ca_q4gsw)
    guard layer.op == op else { throw CLIError.usage("the weight format gives op \(layer.op.rawValue), not \(op.rawValue)") }
    let out = try layer.forward(inp.x, m: inp.m, kernel: kernels.first)
    var file = Safetensors(metadata: ["op": op.rawValue, "kernel": out.plan.kernel.rawValue, "shader": out.plan.shader.rawValue, "device": ctx.capabilities.name])
    file.tensors["y"] = inp.act == .f16 ? .f16(out.y, shape: [inp.m, layer.n]) : .f32(out.y, shape: [inp.m, layer.n])
    if let a = out.activations {
        file.tensors["x_q"] = .init(dtype: .I8, shape: [inp.m, inp.k], data: a.q.map { UInt8(bitPattern: $0) })
        file.tensors["x_scale"] = .f32(a.scale, shape: [inp.m])
        file.tensors["x_zero_point"] = .i32(a.zeroPoint, shape: [inp.m])
    }
    try file.write(path: output)
    let line = "\(op.rawValue) M=\(inp.m) N=\(layer.n) K=\(inp.k) on \(ctx.capabilities.name) with \(out.plan.kernel.rawValue) (\(out.plan.shader.rawValue)) → \(output)"
    if json { print("{\"op\":\"\(op.rawValue)\",\"kernel\":\"\(out.plan.kernel.rawValue)\",\"shader\":\"\(out.plan.shader.rawValue)\",\"output\":\"\(output)\"}") } else { print(line) }
}

func cmdQuantize(_ args: inout Args) throws {
    guard let fmt = args.value("format") else { throw CLIError.usage("quantize needs --format q4gsw|q8csw") }
    let op: Op
    switch fmt {
    case "q4gsw": op = .q4gsw
    case "q8csw": op = .dq8ca_q8csw
    default: throw CLIError.usage("--format must be q4gsw or q8csw")
    }
    guard let input = args.value("inputs") else { throw CLIError.usage("quantize needs --inputs W.safetensors") }
    guard let output = args.value("output") else { throw CLIError.usage("quantize needs -o OUT.safetensors") }
    let name = args.value("tensor") ?? "weight"
    let group = try args.int("group") ?? 128
    try args.checkUnused()
    let file = try Safetensors.read(path: input)
    var out = try Interop.quantize(op: op, weight: try file.require(name), groupSize: group)
    if let b = file.tensors["bias"] { out.tensors["bias"] = b }
    try out.write(path: output)
    print("quantized \(name) \(try file.require(name).shape) to \(fmt)\(op == .q4gsw ? " (group \(group))" : "") → \(output)")
}
