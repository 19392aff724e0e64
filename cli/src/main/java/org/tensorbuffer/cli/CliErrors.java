package org.tensorbuffer.cli;

import com.google.gson.JsonParseException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import org.tensorbuffer.einsum.NpyFormatException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The command line's one error policy, installed on every command by {@link Main#commandLine()}: an error is one
 * line on stderr, {@code tensorbuffer <command>: <message>}, naming the input and what is wrong with it; the exit
 * status is {@value #INVALID} for usage errors and invalid values or inputs (a bad option, a missing or malformed
 * file, an unknown name) and {@value #FAILURE} for failures while running (out of memory, a device that cannot be
 * opened, an I/O error); the stack trace is printed only with {@code --verbose}. Exit 3 stays {@code compare}'s
 * "token ids differ".
 */
final class CliErrors implements IExecutionExceptionHandler, IParameterExceptionHandler {
    /** Exit status of usage errors, invalid option values and invalid inputs. */
    static final int INVALID = 2;
    /** Exit status of failures while running. */
    static final int FAILURE = 1;

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println(prefix(cmd) + oneLine(ex.getMessage()) + " (see '" + cmd.getCommandSpec().qualifiedName()
                + " --help')");
        if (verbose(cmd)) {
            ex.printStackTrace(err);
        }
        err.flush();
        return INVALID;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, ParseResult parseResult) {
        return report(cmd, ex);
    }

    /**
     * Prints {@code e} as one line (and its stack trace with {@code --verbose}) and returns its exit status; for
     * commands that catch their own errors.
     */
    static int report(CommandLine cmd, Throwable e) {
        System.out.flush();
        PrintWriter err = cmd.getErr();
        err.println(prefix(cmd) + message(e));
        if (verbose(cmd)) {
            e.printStackTrace(err);
        }
        err.flush();
        return exitCode(e);
    }

    /** {@value #INVALID} for invalid values and inputs, else {@value #FAILURE}. */
    static int exitCode(Throwable e) {
        Throwable t = unwrap(e);
        if (t instanceof ParameterException || t instanceof IllegalArgumentException
                || t instanceof NpyFormatException || t instanceof JsonParseException
                || t instanceof NoSuchFileException || t instanceof NotDirectoryException) {
            return INVALID;
        }
        return FAILURE;
    }

    /** The one-line message of {@code e}: what is wrong, naming the file or value (no class names, no stack). */
    static String message(Throwable e) {
        Throwable t = unwrap(e);
        String m;
        if (t instanceof NoSuchFileException nf) {
            m = nf.getFile() + ": file not found" + (nf.getReason() != null ? " (" + nf.getReason() + ")" : "");
        } else if (t instanceof AccessDeniedException ad) {
            m = ad.getFile() + ": permission denied";
        } else if (t instanceof FileSystemException fs && fs.getFile() != null) {
            m = fs.getFile() + ": " + (fs.getReason() != null ? fs.getReason() : t.getClass().getSimpleName());
        } else if (t instanceof OutOfMemoryError) {
            m = "out of Java heap memory (" + t.getMessage() + "); raise -Xmx";
        } else if (t.getMessage() != null && !t.getMessage().isBlank()) {
            m = t.getMessage();
            if (t instanceof IOException && !(t instanceof NpyFormatException) && t.getCause() == null
                    && !m.contains("/")) {
                m = "I/O error: " + m;
            }
        } else {
            m = t.getClass().getSimpleName();
        }
        return oneLine(m);
    }

    /** The cause that says what happened, through the wrappers that do not. */
    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        for (int i = 0; i < 8 && t.getCause() != null; i++) {
            if (t instanceof UncheckedIOException || t instanceof ExceptionInInitializerError
                    || t instanceof CommandLine.ExecutionException
                    || (t instanceof RuntimeException && t.getClass() == RuntimeException.class)
                    || t instanceof java.lang.reflect.InvocationTargetException) {
                t = t.getCause();
            } else {
                break;
            }
        }
        return t;
    }

    private static String oneLine(String s) {
        String m = s == null ? "" : s.strip();
        if (m.startsWith("Error: ")) {
            m = m.substring("Error: ".length());
        }
        int nl = m.indexOf('\n');
        if (nl >= 0) {
            m = m.substring(0, nl).strip() + " ...";
        }
        return m;
    }

    private static String prefix(CommandLine cmd) {
        return cmd.getCommandSpec().qualifiedName() + ": ";
    }

    private static boolean verbose(CommandLine cmd) {
        return cmd.getCommandSpec().root().userObject() instanceof Main m && m.verbose;
    }
}
