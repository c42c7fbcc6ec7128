package mapping

// Contact is a person as an outbound CRM needs them: identifiers and
// profile (personal data: it travels only to destinations that ask for
// it, and erasure removes it from pending deliveries).
type Contact struct {
	CustomerID string            `json:"customer_id"`
	Email      string            `json:"email,omitempty"`
	Phone      string            `json:"phone,omitempty"`
	FirstName  string            `json:"first_name,omitempty"`
	LastName   string            `json:"last_name,omitempty"`
	Company    string            `json:"company,omitempty"`
	JobTitle   string            `json:"job_title,omitempty"`
	Country    string            `json:"country,omitempty"`
	Stage      string            `json:"stage,omitempty"`
	Status     string            `json:"customer_status,omitempty"`
	Traits     map[string]string `json:"traits,omitempty"`
	// MergedInto is the survivor when this record was merged away.
	MergedInto string `json:"merged_into,omitempty"`
}

// ContactOf is c's contact as it is now.
func ContactOf(c *Customer) *Contact {
	t := c.TraitMap()
	return &Contact{
		CustomerID: c.ID, Email: t["email"], Phone: t["phone"], FirstName: t["first_name"], LastName: t["last_name"],
		Company: t["company"], JobTitle: t["job_title"], Country: t["country"],
		Stage: c.Lifecycle.Stage, Status: c.Lifecycle.Status, Traits: t, MergedInto: c.MergedInto,
	}
}
