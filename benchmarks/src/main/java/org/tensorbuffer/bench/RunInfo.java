package org.tensorbuffer.bench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Where and how a benchmark ran: the facts a report must state next to its figures.
 *
 * @param machine  OS, architecture, logical CPUs and (on Linux) the CPU model
 * @param jdk      vendor, version and VM name of the JVM that ran the benchmarks
 * @param date     ISO-8601 date and time the run started
 * @param commit   {@code git describe --always --dirty} of the working tree, or {@code unknown}
 * @param commands the exact command lines that produced the results
 */
public record RunInfo(String machine, String jdk, String date, String commit, List<String> commands) {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    /** Facts of this JVM and machine, with the given command lines. */
    public static RunInfo current(List<String> commands) {
        return new RunInfo(currentMachine(), currentJdk(), ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
                gitDescribe(), List.copyOf(commands));
    }

    /** {@code Linux amd64, 2 CPUs, <model name>}. */
    public static String currentMachine() {
        String cpu = "";
        try {
            Path info = Path.of("/proc/cpuinfo");
            if (Files.isReadable(info)) {
                cpu = Files.readAllLines(info).stream().filter(l -> l.startsWith("model name")).findFirst()
                        .map(l -> ", " + l.substring(l.indexOf(':') + 1).trim()).orElse("");
            }
        } catch (IOException e) {
            // the model name is a nicety
        }
        long memGiB = 0;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            memGiB = Math.round(os.getTotalMemorySize() / (double) (1L << 30));
        }
        return System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", "
                + Runtime.getRuntime().availableProcessors() + " CPUs" + cpu + (memGiB > 0 ? ", " + memGiB
                + " GiB RAM" : "");
    }

    /** {@code Eclipse Adoptium 25.0.1+8-LTS (OpenJDK 64-Bit Server VM)}. */
    public static String currentJdk() {
        return System.getProperty("java.vendor") + " " + System.getProperty("java.runtime.version") + " ("
                + System.getProperty("java.vm.name") + ")";
    }

    private static String gitDescribe() {
        try {
            Process p = new ProcessBuilder("git", "describe", "--always", "--dirty").redirectErrorStream(true).start();
            p.getOutputStream().close();
            if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
                return new String(p.getInputStream().readAllBytes()).trim();
            }
            p.destroyForcibly();
        } catch (IOException e) {
            // no git
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "unknown";
    }

    /** Writes this as JSON. */
    public void write(Path file) {
        try {
            Files.writeString(file, GSON.toJson(this));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads a file written by {@link #write}. */
    public static RunInfo read(Path file) {
        try {
            return GSON.fromJson(Files.readString(file), RunInfo.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The side file of a JMH result file: {@code jmh.json} has {@code jmh.meta.json}. */
    public static Path sideFile(Path results) {
        String n = results.getFileName().toString();
        String base = n.endsWith(".json") ? n.substring(0, n.length() - 5) : n;
        return results.resolveSibling(base + ".meta.json");
    }
}
