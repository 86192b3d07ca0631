func cmdBench(_ args: inout Args) throws { throw CLIError.failed("bench: not implemented yet") }
func cmdRun(_ args: inout Args) throws { throw CLIError.failed("run: not implemented yet") }
func cmdQuantize(_ args: inout Args) throws { throw CLIError.failed("quantize: not implemented yet") }
