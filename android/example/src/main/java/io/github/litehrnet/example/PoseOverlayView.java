/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.example;

import android.content.Context;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.view.View;
import io.github.litehrnet.Pose;
import java.util.Collections;
import java.util.List;

/** Draws poses (image pixels) over a PreviewView that fills the view centered (FILL_CENTER). */
final class PoseOverlayView extends View {
    private static final float MIN_SCORE = 0.3f;
    private final Paint joint = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint limb = new Paint(Paint.ANTI_ALIAS_FLAG);
    /** One frame's drawing, replaced as a whole so that the UI thread never mixes two frames. */
    private static final class Frame {
        final List<Pose> poses;
        final int[][] skeleton;
        final int width;
        final int height;

        Frame(List<Pose> poses, int[][] skeleton, int width, int height) {
            this.poses = poses;
            this.skeleton = skeleton;
            this.width = width;
            this.height = height;
        }
    }

    private volatile Frame frame = new Frame(Collections.emptyList(), new int[0][], 1, 1);

    PoseOverlayView(Context context) {
        super(context);
        joint.setColor(Color.GREEN);
        limb.setColor(Color.rgb(255, 160, 0));
        limb.setStrokeWidth(6f);
    }

    /** Called from the analysis thread with the latest frame's poses. */
    void show(List<Pose> latest, int[][] edges, int width, int height) {
        frame = new Frame(latest, edges, width, height);
        postInvalidate();
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        Frame f = frame;
        // FILL_CENTER: the image is scaled to cover the view and centered
        float scale = Math.max(getWidth() / (float) f.width, getHeight() / (float) f.height);
        float dx = (getWidth() - f.width * scale) / 2;
        float dy = (getHeight() - f.height * scale) / 2;
        for (Pose pose : f.poses) {
            for (int[] edge : f.skeleton) {
                int a = edge[0];
                int b = edge[1];
                if (pose.score(a) > MIN_SCORE && pose.score(b) > MIN_SCORE) {
                    canvas.drawLine(dx + pose.x(a) * scale, dy + pose.y(a) * scale, dx + pose.x(b) * scale,
                            dy + pose.y(b) * scale, limb);
                }
            }
            for (int k = 0; k < pose.size(); k++) {
                if (pose.score(k) > MIN_SCORE) {
                    canvas.drawCircle(dx + pose.x(k) * scale, dy + pose.y(k) * scale, 8f, joint);
                }
            }
        }
    }
}
