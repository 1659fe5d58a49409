"""The timetable of a meeting: the engines that place meetings, and planning and announcing it."""
