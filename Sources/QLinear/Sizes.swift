/// Overflow-checked size arithmetic for every size, count and offset that comes from outside
/// input (public API arguments, files, the CLI). Each helper throws `QLinearError.invalidShape`
/// naming what was being computed instead of trapping.
public enum Checked {
    /// a · b, or an error naming `what`.
    public static func mul(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard a >= 0, b >= 0 else { throw QLinearError.invalidShape("\(what()): negative size (\(a) · \(b))") }
        let (r, o) = a.multipliedReportingOverflow(by: b)
        guard !o else { throw QLinearError.invalidShape("\(what()): \(a) · \(b) overflows") }
        return r
    }

    /// a + b, or an error naming `what`.
    public static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard a >= 0, b >= 0 else { throw QLinearError.invalidShape("\(what()): negative size (\(a) + \(b))") }
        let (r, o) = a.addingReportingOverflow(b)
        guard !o else { throw QLinearError.invalidShape("\(what()): \(a) + \(b) overflows") }
        return r
    }

    /// The product of `dims` (1 for none), or an error naming `what`.
    public static func product(_ dims: [Int], _ what: @autoclosure () -> String) throws -> Int {
        var r = 1
        for d in dims { r = try mul(r, d, what()) }
        return r
    }

    /// x rounded up to a multiple of m (m > 0), or an error naming `what`.
    public static func roundUp(_ x: Int, _ m: Int, _ what: @autoclosure () -> String) throws -> Int {
        precondition(m > 0)
        let s = try add(x, m - 1, what())
        return s / m * m
    }
}
