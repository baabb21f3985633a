"""The courses service: parent schools, the course supermarket, lectures, points."""
