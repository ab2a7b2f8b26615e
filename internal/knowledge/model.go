package knowledge

// FAQ is one question-answer pair from a *.yaml file in knowledge.dir.
type FAQ struct {
	ID       string   `yaml:"id" json:"id"`
	Question string   `yaml:"question" json:"question"`
	Similar  []string `yaml:"similar" json:"similar,omitempty"`
	Answer   string   `yaml:"answer" json:"answer"`
	Tags     []string `yaml:"tags" json:"tags,omitempty"`

	// File and Line locate the entry for error messages and maintainers.
	File string `yaml:"-" json:"file,omitempty"`
	Line int    `yaml:"-" json:"line,omitempty"`
}

// Passage is one section of a *.md document, split at headings. Passages
// ground the LLM; they are never sent to a customer verbatim by this package.
type Passage struct {
	// ID is "file#n", stable while the document's structure is unchanged.
	ID string `json:"id"`
	// Title is the heading path, for example "售后服务说明 > 退货 > 退货运费".
	Title string `json:"title"`
	Text  string `json:"text"`
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// Base is one loaded, indexed knowledge base. It is immutable once built and
// safe for concurrent use; a reload builds a new Base.
type Base struct {
	FAQs     []*FAQ
	Passages []*Passage

	byID map[string]*FAQ
	// faqIndex holds one document per FAQ question and `similar` variant;
	// passageIndex one per passage (title and text).
	faqIndex     *index
	passageIndex *index
	// vectors holds embeddings of index documents when an embedder is
	// configured; nil otherwise (see vector.go).
	vectors *vectorSet
}

// FAQ returns the entry with the given id, or nil.
func (b *Base) FAQ(id string) *FAQ {
	if b == nil {
		return nil
	}
	return b.byID[id]
}
