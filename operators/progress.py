"""Progress bar, status-bar text and timer for Emotive's long-running modal operators."""


class ModalProgress:
    """Mixin: the operator decides what a tick does and handles Esc; this shows where it is."""

    _timer = None

    def progress_start(self, context, interval: float) -> set:
        wm = context.window_manager
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(interval, window=context.window)
        wm.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def progress_show(self, context, fraction: float, message: str) -> None:
        context.window_manager.progress_update(int(100 * fraction))
        if context.workspace:
            context.workspace.status_text_set(f"Emotive: {message}… {fraction:.0%}  (Esc to cancel)")

    def progress_stop(self, context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)
