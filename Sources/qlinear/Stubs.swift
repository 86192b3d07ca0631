func cmdRun(_ args: inout Args) throws { throw CLIError.failed("run: not implemented yet") }
func cmdQuantize(_ args: inout Args) throws { throw CLIError.failed("quantize: not implemented yet") }
