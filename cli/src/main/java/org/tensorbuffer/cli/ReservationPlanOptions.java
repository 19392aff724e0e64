package org.tensorbuffer.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.observe.ByteUnits;
import picocli.CommandLine.Option;

/**
 * picocli mixin of {@code decode} and {@code einsum}: {@code --save-plan FILE} writes the reservation plan a
 * proactive run reserved (recorded on the {@code meta} device), and {@code --reservation-plan FILE} reserves a saved
 * plan instead of recording one. Both need the proactive strategy. A bad plan file is refused before the run with one
 * line naming the file and line ({@link ReservationPlan#load}).
 */
final class ReservationPlanOptions {
    @Option(names = "--save-plan", paramLabel = "FILE", converter = OutputFile.class,
            description = "Proactive only: write the reservation plan the run reserved (per shape and dtype, the most "
                    + "buffers live at once in a step recorded on the meta device) to FILE, a small text file that "
                    + "--reservation-plan reads back.")
    Path savePlan;

    @Option(names = "--reservation-plan", paramLabel = "FILE", converter = InputFile.class,
            description = "Proactive only: reserve the plan in FILE (written by --save-plan for the same model or "
                    + "instance) instead of recording a step; a plan that does not fit the run costs misses, never "
                    + "wrong results.")
    Path reservationPlan;

    /**
     * Checks that the options fit the strategy and loads {@code --reservation-plan}.
     *
     * @return the loaded plan, or {@code null} without {@code --reservation-plan}
     * @throws IllegalArgumentException naming the option or the file (and line) when they do not fit or the file is
     *                                  not a plan
     * @throws IOException              if the file cannot be read
     */
    ReservationPlan load(AllocationStrategy strategy) throws IOException {
        if (strategy != AllocationStrategy.PROACTIVE && (savePlan != null || reservationPlan != null)) {
            throw new IllegalArgumentException((savePlan != null ? "--save-plan" : "--reservation-plan")
                    + " needs --strategy proactive (the strategy is " + strategy.name().toLowerCase(java.util.Locale.ROOT)
                    + ")");
        }
        return reservationPlan == null ? null : ReservationPlan.load(reservationPlan);
    }

    /** Writes {@code plan} to {@code --save-plan} (if given) and says so on {@code err} unless {@code quiet}. */
    void save(ReservationPlan plan, PrintStream err, boolean quiet) throws IOException {
        if (savePlan == null || plan == null) {
            return;
        }
        plan.save(savePlan);
        if (!quiet) {
            err.println("reservation plan written to " + savePlan + " (" + plan.size() + " keys, "
                    + plan.bufferCount() + " buffers, " + ByteUnits.format(plan.totalBytes()) + ")");
        }
    }
}
