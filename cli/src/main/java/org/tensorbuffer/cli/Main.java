package org.tensorbuffer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code tensorbuffer} command line: one subcommand per job. Run {@code ./tensorbuffer --help} for the list.
 */
@Command(name = "tensorbuffer", mixinStandardHelpOptions = true, version = "tensorbuffer 0.1.0",
        description = "Fast memory for GPU and CPU tensors: decode, einsum, compare allocation strategies.",
        subcommands = {BenchCommand.class, CompareCommand.class, DecodeCommand.class, DevicesCommand.class,
            EinsumCommand.class, PlanCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Entry point; exits with the subcommand's exit code. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line without exiting (for tests); returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
