package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link StderrProgress}: nothing in the first second, at most one line a second, {@code due} says which. */
class StderrProgressTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    @Test
    void disabledIsNeverDueAndPrintsNothing() throws InterruptedException {
        StderrProgress p = new StderrProgress(err, false, "decode");
        Thread.sleep(1_100);
        assertThat(p.due()).isFalse();
        p.update("1/2 positions");
        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEmpty();
    }

    @Test
    void dueOnlyOnceASecondHasPassedAndNotAgainRightAfterALine() throws InterruptedException {
        StderrProgress p = new StderrProgress(err, true, "decode");
        assertThat(p.due()).isFalse();
        p.update("early");
        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEmpty();
        Thread.sleep(1_100);
        assertThat(p.due()).isTrue();
        p.update("3/4 positions");
        assertThat(bytes.toString(StandardCharsets.UTF_8)).startsWith("decode: 3/4 positions");
        assertThat(p.due()).isFalse();
    }
}
