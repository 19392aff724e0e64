package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryTimelineOptionTest {

    @Test
    void decodeWritesTheMemoryTimelinePage(@TempDir Path dir) throws Exception {
        Path model = Path.of("..", "models", "stories260K.bin");
        Path html = dir.resolve("timeline.html");
        CliRun r = CliRun.of("decode", "--model", model.toString(), "--temperature", "0", "--steps", "8",
                "--print-ids", "--memory-timeline", html.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("memory timeline written to " + html);
        String page = Files.readString(html);
        assertThat(page).startsWith("<!DOCTYPE html>").contains("<svg id=\"timeline\"")
                .contains("<polygon class=\"live\"").contains("TensorContext[cpu, PROACTIVE]")
                .contains("TensorBuffer[cpu/default]");
    }
}
