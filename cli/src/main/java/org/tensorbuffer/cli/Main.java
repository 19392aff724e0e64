package org.tensorbuffer.cli;

import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code tensorbuffer} command line: one subcommand per job. Run {@code ./tensorbuffer --help} for the list.
 * Errors follow one policy ({@link CliErrors}): one line naming the input, exit 2 for usage errors and invalid values,
 * 1 for failures at run time, the stack trace only with {@code --verbose}.
 */
@Command(name = "tensorbuffer", mixinStandardHelpOptions = true, version = "tensorbuffer 0.1.0",
        description = "Fast memory for GPU and CPU tensors: decode, einsum, compare allocation strategies.",
        subcommands = {BenchCommand.class, CompareCommand.class, DecodeCommand.class, DevicesCommand.class,
            EinsumCommand.class, PlanCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "On an error, also print its stack trace.")
    boolean verbose;

    /** Entry point; exits with the subcommand's exit code. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line without exiting (for tests); returns the exit code. */
    public static int run(String... args) {
        return run(System.getenv(), args);
    }

    /** Runs the command line with {@code env} as the environment to check (for tests); returns the exit code. */
    static int run(Map<String, String> env, String... args) {
        CommandLine cmd = commandLine();
        try {
            EnvironmentCheck.check(env);
        } catch (IllegalArgumentException e) {
            PrintWriter err = cmd.getErr();
            err.println("tensorbuffer: " + e.getMessage());
            err.flush();
            return CliErrors.INVALID;
        }
        return cmd.execute(args);
    }

    /** The command line with the error policy installed. */
    static CommandLine commandLine() {
        CliErrors errors = new CliErrors();
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(errors).setParameterExceptionHandler(errors);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
