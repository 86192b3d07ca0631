import Testing
@testable import QLinear
import QLinearIO
@testable import QLinearLlama

/// The model runner in guard mode (LlamaModel(guardBuffers: true)): every linear's x and y are
/// fenced by poisoned guard regions and checked after each GPU run.
@Suite(.serialized) struct GuardTests {
    /// SmolLM2 with int8 dynamic activations (quantization pass + linear kernel per layer): a
    /// 3-token prompt (M = 3, tiled kernels) and two decode steps (M = 1, matrix–vector kernels);
    /// no kernel writes outside its output or into its input, every output element is written.
    @Test func smolLM2ForwardStaysInsideItsBuffers() throws {
        let path = try #require(SmolLM2.path, "\(SmolLM2.missing)")
        let g = try GGUFFile(path: path)
        let ctx = try QLinearContext(instance: TestValidation.instance)
        let model = try LlamaModel(gguf: g, context: ctx, scheme: .dq8ca_q4gsw, groupSize: 32, act: .f32, headScheme: .q4gsw, guardBuffers: true)
        let tok = try SmolLM2.tokenizer.get()
        var logits = try model.forward(tok.encode("The capital of France", addSpecial: true))
        for _ in 0..<2 {
            let finite = logits.allSatisfy { $0.isFinite }
            #expect(finite)
            logits = try model.forward([LlamaTools.argmax(logits)])
        }
        // Per forward: 4 groups per layer plus the head, all checked.
        #expect(model.guardedRuns == 3 * (4 * model.config.layers + 1))
    }

    /// A stray write is caught: bytes changed in y's trailing guard, in x, or an output left
    /// unwritten each make the run throw with the layer named.
    @Test func strayWritesAreCaught() throws {
        let ctx = try QLinearContext(selfTest: false, instance: TestValidation.instance)
        let w = try Q4GSWWeights.quantize((0..<(24 * 64)).map { Float($0 % 7) / 7 - 0.4 }, n: 24, k: 64, groupSize: 32)
        let layer = try LinearLayer(context: ctx, weights: .q4gsw(w), act: .f32)
        let group = try LinearGroup([layer], guarded: true)
        let x = (0..<(2 * 64)).map { Float($0 % 5) / 5 }
        let clean = try group.run(x, m: 2)
        let direct = try layer.forward(x, m: 2).y
        #expect(clean[0] == direct)
        let g = group.guardBytes, yBytes = 2 * 24 * 4
        let sabotage: [(String, (Buffer, [Buffer]) throws -> Void)] = [
            ("wrote outside its output (byte \(yBytes) relative to y", { _, ys in try ys[0].write(array: [UInt8(0)], offset: g + yBytes) }),
            ("wrote outside its output (byte -1 relative to y", { _, ys in try ys[0].write(array: [UInt8(0)], offset: g - 1) }),
            ("wrote into its input x (byte 5 relative to x, x itself)", { xb, _ in try xb.write(array: [UInt8(7)], offset: g + 5) }),
            ("left y[1, 23] unwritten", { _, ys in try ys[0].write(array: [UInt8](repeating: 0xFF, count: 4), offset: g + yBytes - 4) }),
        ]
        for (message, hook) in sabotage {
            group.afterRun = hook
            let text = thrownText { _ = try group.run(x, m: 2) }
            #expect(text?.contains(message) == true, "\(text ?? "no error")")
        }
        group.afterRun = nil
        let again = try group.run(x, m: 2)
        #expect(again == clean)
    }
}

func thrownText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}
