package main

// extraCommands lists the commands beyond plan and status. Each one lives in
// its own file; add it here when it lands.
func extraCommands(e env) []command {
	return []command{
		newBenchCmd(e),
		newSampleCmd(e),
		newEvalCmd(e),
		newExportCmd(e),
		newRunCmd(e),
		newReportCmd(e),
		newExportMetricsCmd(e),
		newServeCmd(e),
		newMergeCmd(e),
		newLaunchCmd(e),
	}
}
