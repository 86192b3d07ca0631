/// SPIR-V words (little-endian) from base64 text, as the generated shader tables embed them
/// (a string literal compiles in well under a second; an array literal of the same module does not).
public func spirvWords(base64 text: StaticString) -> [UInt32] {
    var bytes: [UInt8] = []
    text.withUTF8Buffer { buf in
        bytes.reserveCapacity(buf.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in buf {
            let v: UInt32
            switch c {
            case 65...90: v = UInt32(c - 65)
            case 97...122: v = UInt32(c - 71)
            case 48...57: v = UInt32(c + 4)
            case 43: v = 62
            case 47: v = 63
            default: continue   // '=' padding
            }
            acc = acc << 6 | v; bits += 6
            if bits >= 8 { bits -= 8; bytes.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
        }
    }
    var words = [UInt32](repeating: 0, count: bytes.count / 4)
    for i in 0..<words.count {
        let b0 = UInt32(bytes[4 * i]), b1 = UInt32(bytes[4 * i + 1])
        let b2 = UInt32(bytes[4 * i + 2]), b3 = UInt32(bytes[4 * i + 3])
        words[i] = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
    }
    return words
}
