package org.tensorbuffer.chart;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a chart title into lines at spaces, for SVG (which does not wrap text itself). Stateless and thread-safe.
 */
public final class TitleWrap {
    private TitleWrap() {
    }

    /**
     * {@code text} split at spaces (runs of spaces count as one) into lines of at most {@code width} characters; a
     * word longer than {@code width} stays whole on its own line.
     *
     * @param text  the text ({@code ""} gives no lines)
     * @param width characters per line, at least 1
     * @throws IllegalArgumentException if {@code width < 1}
     */
    public static List<String> wrap(String text, int width) {
        if (width < 1) {
            throw new IllegalArgumentException("line width " + width + " is not positive");
        }
        List<String> lines = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String word : text.trim().split(" +")) {
            if (word.isEmpty()) {
                continue;
            }
            if (cur.length() > 0 && cur.length() + 1 + word.length() > width) {
                lines.add(cur.toString());
                cur.setLength(0);
            }
            cur.append(cur.length() > 0 ? " " : "").append(word);
        }
        if (cur.length() > 0) {
            lines.add(cur.toString());
        }
        return lines;
    }
}
