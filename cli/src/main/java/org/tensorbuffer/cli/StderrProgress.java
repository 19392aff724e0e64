package org.tensorbuffer.cli;

import java.io.PrintStream;

/**
 * A progress line on stderr for long commands: nothing during the first second, then at most one line a second
 * (rewritten in place on a terminal, one per line otherwise). The caller says what is warm-up and what is measured,
 * so that no rate is printed from JIT-bound first iterations.
 */
final class StderrProgress {
    private final PrintStream err;
    private final boolean enabled;
    private final String command;
    private final long start = System.nanoTime();
    private long last = start;
    private boolean shown;

    StderrProgress(PrintStream err, boolean enabled, String command) {
        this.err = err;
        this.enabled = enabled;
        this.command = command;
    }

    /**
     * Whether {@link #update} would print now (enabled, and a second has passed since the last line): callers that
     * build their text per step check this first, so that no text is formatted to be thrown away.
     */
    boolean due() {
        return enabled && System.nanoTime() - last >= 1_000_000_000L;
    }

    /** Shows {@code text} (prefixed with the command) if a second has passed since the last line. */
    void update(String text) {
        if (!due()) {
            return;
        }
        last = System.nanoTime();
        shown = true;
        err.print(command + ": " + text + (System.console() != null ? "\u001b[K\r" : "\n"));
        err.flush();
    }

    /** Seconds since the progress started. */
    double elapsedSeconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Ends the line on a terminal. */
    void done() {
        if (shown && System.console() != null) {
            err.println();
        }
    }
}
